# Harness self-test: a scenario that never ends must be cut off by the in-guest timeout.
echo "hanging on purpose"
sleep 100000
