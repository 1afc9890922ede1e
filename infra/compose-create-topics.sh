#!/usr/bin/env bash
# Creates the topics of contracts/topics.yaml inside the apache/kafka image (no Python there).
# Reads the simple shape of that file: defaults.partitions, defaults.replication_factor,
# defaults.configs (key: "value") and the `- name:` entries.
set -euo pipefail
bootstrap=$1 file=$2
# a third argument: the client properties of a secured broker (compose.secure.yaml)
command_config=()
if [[ $# -ge 3 ]]; then command_config=(--command-config "$3"); fi
partitions=$(awk '/^  partitions:/ {print $2}' "$file")
replication=$(awk '/^  replication_factor:/ {print $2}' "$file")
configs=$(awk '/^  configs:/ {on=1; next} on && /^    [a-z]/ {gsub(/[":]/, "", $0); print "--config " $1 "=" $2} /^[a-z]/ {on=0}' "$file")
for topic in $(awk '/^  - name:/ {print $3}' "$file"); do
  # shellcheck disable=SC2086
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" "${command_config[@]}" --create --if-not-exists \
    --topic "$topic" --partitions "$partitions" --replication-factor "$replication" $configs
done
