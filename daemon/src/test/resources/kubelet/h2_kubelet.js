// A kubelet stand-in on Node's http2 (nghttp2), not grpc-java: serves v1beta1.Registration/Register on kubelet.sock
// with gRPC framed by hand. nghttp2 validates :authority as HTTP/2 requires, as the kubelet's Go stack does.
// Usage: node h2_kubelet.js <plugin-dir>. Prints "ready", then per registration "register <hex RegisterRequest>" and,
// after calling the plugin back on its endpoint, "options <hex DevicePluginOptions>" (or "options-failed <why>").
// Messages stay raw bytes: the test decodes them with the project's generated classes.
'use strict';
const fs = require('fs');
const http2 = require('http2');
const net = require('net');
const path = require('path');

const dir = process.argv[2];
const say = (line) => process.stdout.write(line + '\n');

function frame(msg) {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt32BE(msg.length, 1);
  msg.copy(b, 5);
  return b;
}

// The first length-delimited field `number` of a protobuf message (RegisterRequest.endpoint is field 2).
function stringField(buf, number) {
  let i = 0;
  const varint = () => {
    let v = 0, shift = 0, b;
    do { b = buf[i++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    return v;
  };
  while (i < buf.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const n = varint();
      if (key >>> 3 === number) return buf.subarray(i, i + n).toString();
      i += n;
    } else throw new Error('wire type ' + wire);
  }
  return null;
}

function callBack(endpoint) {
  const session = http2.connect('http://localhost', { createConnection: () => net.connect(path.join(dir, endpoint)) });
  session.on('error', (e) => say('options-failed ' + e.code));
  const req = session.request({ ':method': 'POST', ':path': '/v1beta1.DevicePlugin/GetDevicePluginOptions',
    'content-type': 'application/grpc', te: 'trailers' });
  const chunks = [];
  let status = null;
  req.on('response', (h) => { status = h['grpc-status'] || null; });
  req.on('trailers', (t) => { status = t['grpc-status']; });
  req.on('data', (c) => chunks.push(c));
  req.on('error', (e) => say('options-failed ' + e.code));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (status !== '0' || body.length < 5) say('options-failed grpc-status ' + status);
    else say('options ' + body.subarray(5, 5 + body.readUInt32BE(1)).toString('hex'));
    session.close();
  });
  req.end(frame(Buffer.alloc(0)));
}

const server = http2.createServer();
server.on('stream', (stream, headers) => {
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    const body = Buffer.concat(chunks);
    if (headers[':path'] !== '/v1beta1.Registration/Register' || body.length < 5) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
      return;
    }
    const msg = body.subarray(5, 5 + body.readUInt32BE(1));
    say('register ' + msg.toString('hex'));
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frame(Buffer.alloc(0))); // v1beta1.Empty
    callBack(stringField(msg, 2));
  });
});
// What the old behaviour meets: nghttp2 refuses the request before any stream exists.
server.on('sessionError', (e) => process.stderr.write('h2_kubelet: session error ' + e.code + '\n'));
fs.mkdirSync(dir, { recursive: true });
server.listen(path.join(dir, 'kubelet.sock'), () => say('ready'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
