{{- define "vfio-broker.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vfio-broker.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vfio-broker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vfio-broker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vfio-broker.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "vfio-broker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vfio-broker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vfio-broker.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
"true" unless set to false: protection reads the host's mount table and routes through /proc/1 (the pod's own
/proc shows the pod's), and broker-mode clients in other pods are visible by pid only from the host namespace.
*/}}
{{- define "vfio-broker.hostPID" -}}
{{- if kindIs "bool" .Values.hostPID -}}
{{- .Values.hostPID -}}
{{- else -}}
true
{{- end -}}
{{- end -}}

{{/* Spring Boot configuration for the daemon in the pod. */}}
{{- define "vfio-broker.daemonConfig" -}}
vfio-broker:
  root: /
  # Without the host PID namespace there is no host view: the daemon then refuses every bind, saying why.
  host-proc: {{ if eq (include "vfio-broker.hostPID" .) "true" }}/proc/1{{ else }}/proc{{ end }}
  state-dir: {{ .Values.hostPaths.stateDir }}
  policy-file: /etc/vfio-broker/policy/policy.yaml
{{- if .Values.metrics.tokenSecret }}
  metrics:
    token-file: /etc/vfio-broker/metrics-token/token
{{- end }}
  kubelet:
    enabled: true
    plugin-dir: {{ .Values.hostPaths.devicePlugins }}
    cdi-dir: {{ .Values.hostPaths.cdi }}
    cdi: {{ .Values.cdi.enabled }}
    resource-domain: {{ .Values.resourceDomain }}
    broker-socket-dir: {{ .Values.hostPaths.socketDir }}
    refresh-interval: {{ .Values.refreshInterval }}
    pools:
{{- range .Values.pools }}
      - name: {{ .name }}
        mode: {{ default "device-nodes" .mode }}
        backend: {{ default "legacy" .backend }}
        selectors:
{{ toYaml .selectors | indent 10 }}
{{- end }}
{{- if .Values.dra.enabled }}
  dra:
    enabled: true
    driver-name: {{ .Values.dra.driverName }}
    kubelet-dir: {{ .Values.dra.kubeletDir }}
    cdi-dir: {{ .Values.hostPaths.cdi }}
    broker-socket-dir: {{ .Values.hostPaths.socketDir }}
    pools:
{{- range .Values.pools }}
      - name: {{ .name }}
        mode: {{ default "device-nodes" .mode }}
        backend: {{ default "legacy" .backend }}
        selectors:
{{ toYaml .selectors | indent 10 }}
{{- end }}
{{- end }}
server:
  address: 127.0.0.1
management:
  server:
    port: {{ .Values.metrics.port }}
    address: 0.0.0.0
  endpoints:
    web:
      exposure:
        include: health,info,prometheus
  endpoint:
    health:
      probes:
        enabled: true
{{- end -}}
