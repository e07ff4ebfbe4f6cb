#!/usr/bin/env bash
# docker-compose.yml's kafka entrypoint (apache/kafka image). The repository's server-sasl.properties
# plus this host's keys (compose.properties), KRaft storage formatted once with a SCRAM user per hub
# principal, then the broker. tests/kafka/test_compose_kafka.py runs this very script.
#   KAFKA_CLUSTER_ID      22-character base64 cluster id (e.g. `python3 -c "import base64,uuid;
#                         print(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b'=').decode())"`)
#   KAFKA_ADMIN_PASSWORD  the broker's own super user `admin`
#   KAFKA_SSL_PASSWORD    password of /etc/kafka/secrets/broker.p12
#   KAFKA_SCRAM_USERS     space-separated name=password pairs (no spaces in passwords)
set -euo pipefail
: "${KAFKA_CLUSTER_ID:?}" "${KAFKA_ADMIN_PASSWORD:?}" "${KAFKA_SSL_PASSWORD:?}" "${KAFKA_SCRAM_USERS:?}"
BIN=${KAFKA_BIN:-/opt/kafka/bin}
CONF=${KAFKA_CONF:-/etc/kafka/hub}
HOST=${KAFKA_HOST_PROPERTIES:-$CONF/compose.properties}
RUN=${KAFKA_RUN_DIR:-/tmp/kafka-run}
mkdir -p "$RUN"
umask 077
cat "$CONF/server-sasl.properties" "$HOST" > "$RUN/server.properties"

scram=()
for pair in admin="$KAFKA_ADMIN_PASSWORD" $KAFKA_SCRAM_USERS; do
  name=${pair%%=*}; password=${pair#*=}
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    scram+=(--add-scram "$mechanism=[name=$name,password=$password]")
  done
done
"$BIN/kafka-storage.sh" format --config "$RUN/server.properties" --cluster-id "$KAFKA_CLUSTER_ID" \
  --ignore-formatted "${scram[@]}"

# client settings of the super user, for the healthcheck and kafka-*.sh admin commands
truststore=$(sed -n 's/^ssl.truststore.location=//p' "$HOST")
cat > "$RUN/admin.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=$truststore
PROPS
exec "$BIN/kafka-server-start.sh" "$RUN/server.properties"
