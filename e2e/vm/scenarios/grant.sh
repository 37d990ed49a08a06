# [V9] A lease is exactly its grant (sourced by broker.sh with the daemon running, intremap=on boots).
# Two edu devices behind the PCI bridge share one IOMMU group: 0000:01:01.0 and 0000:01:02.0.
BR_A=0000:01:01.0 BR_B=0000:01:02.0
mkdir -p "$R/v9"
echo "$(basename "$(readlink /sys/bus/pci/devices/$BR_A/iommu_group)") $(basename "$(readlink /sys/bus/pci/devices/$BR_B/iommu_group)")" > "$R/v9/groups"

# policy_v9 [EXTRA-RULES-YAML]: the base rule (every edu for uid 1000, room for a whole group), plus more rules.
policy_v9() {
  cat > /tmp/policy.yaml.new <<POLICY
version: 1
rules:
  - name: ci-edu
    action: allow
    devices:
      vendorDevice: "1234:11e8"
    principals:
      uid: $GUEST_UID
    limits:
      memlockPerLease: 4MiB
      maxDevices: 4
$1
POLICY
  mv /tmp/policy.yaml.new /tmp/policy.yaml
  reload_policy > /dev/null
}

# a) Policy denies the sibling: a legacy lease of one would hand over the group, so it is refused.
policy_v9 "  - name: deny-sibling
    action: deny
    devices:
      address: \"$BR_B\"
    principals:
      uid: $GUEST_UID"
rest /api/v1/policy > "$R/v9/policy-deny.json" 2>&1
probe_start v9/deny-sibling --backend legacy "$BR_A"
probe_acquired v9/deny-sibling
probe_say v9/deny-sibling release
probe_end v9/deny-sibling
driver_of "$BR_A" > "$R/v9/deny-driver-a"; driver_of "$BR_B" > "$R/v9/deny-driver-b"

# b) Policy grants both: one lease of both, the client opens both device fds and reads BAR0 on each.
#    i) The lease's finite memlock limit is lifted while it runs and the client's own comes back after Release.
policy_v9 ""
PROBE_WRAP=(prlimit --memlock=65536:131072)
probe_start v9/grant-both --backend legacy "$BR_A" "$BR_B"
PROBE_WRAP=()
if probe_acquired v9/grant-both; then
  probe_say v9/grant-both bar0
  probe_wait v9/grant-both bar0 30
  driver_of "$BR_A" > "$R/v9/held-driver-a"; driver_of "$BR_B" > "$R/v9/held-driver-b"
  probe_say v9/grant-both release
  probe_wait v9/grant-both 'released|release-failed' 60
  sleep 2
  probe_say v9/grant-both limits
  probe_wait v9/grant-both limits 10
fi
probe_end v9/grant-both
for _ in $(seq 1 40); do [ "$(driver_of "$BR_A")" = none ] && [ "$(driver_of "$BR_B")" = none ] && break; sleep 0.5; done
driver_of "$BR_A" > "$R/v9/after-driver-a"; driver_of "$BR_B" > "$R/v9/after-driver-b"

# c) iommufd: a lease of one bridged edu hands over that device's cdev only.
if [ -e /dev/iommu ]; then
  probe_start v9/iommufd-one --backend iommufd "$BR_A"
  probe_acquired v9/iommufd-one && { probe_say v9/iommufd-one bar0; probe_wait v9/iommufd-one bar0 30; }
  probe_say v9/iommufd-one release
  probe_end v9/iommufd-one
fi
rest "/api/v1/audit?size=100" > "$R/v9/audit.json"
