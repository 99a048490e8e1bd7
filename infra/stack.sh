#!/usr/bin/env bash
# The local Gavel stack: PostgreSQL, a one-node Kafka (KRaft) and FerretDB, run natively on 127.0.0.1.
#
#   infra/stack.sh up                 install what is missing, start what is stopped, wait until ready
#   infra/stack.sh down               stop everything (data is kept)
#   infra/stack.sh status             one line per component
#   infra/stack.sh start|stop NAME    one component: postgres, kafka or ferretdb
#   infra/stack.sh install            only install (build tools, PostgreSQL, Java, Kafka jars, FerretDB)
#   infra/stack.sh env                print the environment variables that point gavel at this stack
#
# Everything is idempotent: a second `up` with everything running only checks readiness.
# Ports, data, logs and pid files can be moved with the variables below, so a test can run a
# private stack next to the shared one.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INFRA="$REPO_ROOT/infra"

# Installed tools are shared by every stack on the machine; the rest belongs to one stack.
TOOLS_DIR=${GAVEL_TOOLS_DIR:-$REPO_ROOT/.stack/tools}
STACK_HOME=${GAVEL_STACK_HOME:-$REPO_ROOT/.stack/local}
PG_PORT=${GAVEL_PG_PORT:-55432}
KAFKA_PORT=${GAVEL_KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${GAVEL_KAFKA_CONTROLLER_PORT:-59093}
FERRETDB_PORT=${GAVEL_FERRETDB_PORT:-57017}
READY_TIMEOUT=${GAVEL_READY_TIMEOUT:-90}

KAFKA_VERSION=3.9.1
FERRETDB_VERSION=1.24.2
PG_USER=gavel

DATA_DIR="$STACK_HOME/data"
LOG_DIR="$STACK_HOME/logs"
RUN_DIR="$STACK_HOME/run"
KAFKA_LIB="$TOOLS_DIR/kafka-$KAFKA_VERSION/lib"
FERRETDB_BIN="$TOOLS_DIR/ferretdb-$FERRETDB_VERSION/gavel-ferretdb"
COMPONENTS=(postgres kafka ferretdb)

say() { printf '[stack] %s\n' "$*"; }
fail() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# --- installation ------------------------------------------------------------------------------

apt_updated=""
apt_install() {
  [ "$(id -u)" = 0 ] || fail "missing Debian packages ($*); run as root or install them: apt-get install $*"
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && printf '%s' "$dir"
}

install_postgres() {
  pg_bindir >/dev/null || apt_install postgresql postgresql-contrib
  pg_bindir >/dev/null || fail "PostgreSQL is still missing after apt-get install"
}

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

install_kafka() {
  if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
    apt_install openjdk-17-jre-headless
  fi
  command -v mvn >/dev/null || apt_install maven
  if [ ! -f "$KAFKA_LIB/.complete" ]; then
    say "resolving Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIB"
    rm -rf "$KAFKA_LIB" && mkdir -p "$KAFKA_LIB"
    if ! mvn -B -f "$INFRA/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB" \
        >"$TOOLS_DIR/kafka-install.log" 2>&1; then
      tail -n 40 "$TOOLS_DIR/kafka-install.log" >&2
      fail "could not resolve Kafka from Maven Central; see $TOOLS_DIR/kafka-install.log"
    fi
    touch "$KAFKA_LIB/.complete"
  fi
}

GO_TOOLCHAIN=go1.24.2
GO=go

# FerretDB needs Go 1.24. Debian's Go is older, and too old to switch toolchains by itself, but
# any Go can download the official toolchain from the Go module proxy as a module.
install_go() {
  command -v go >/dev/null || apt_install golang-go
  local have
  have=$(go env GOVERSION)
  if [ "$(printf '%s\n%s\n' "$GO_TOOLCHAIN" "$have" | sort -V | head -n 1)" = "$GO_TOOLCHAIN" ]; then
    GO=go
    return 0
  fi
  local root="$TOOLS_DIR/$GO_TOOLCHAIN"
  if [ ! -x "$root/bin/go" ]; then
    say "$have is older than FerretDB needs; fetching $GO_TOOLCHAIN from the Go module proxy"
    local dir
    dir=$(cd / && GOFLAGS= go mod download -json "golang.org/toolchain@v0.0.1-$GO_TOOLCHAIN.linux-amd64" \
      | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir" ] || fail "could not download the $GO_TOOLCHAIN toolchain"
    mkdir -p "$TOOLS_DIR" && rm -rf "$root.tmp"
    cp -r "$dir" "$root.tmp" && chmod -R u+w "$root.tmp"
    # Module downloads drop the executable bits.
    chmod +x "$root.tmp"/bin/* "$root.tmp"/pkg/tool/*/*
    mv "$root.tmp" "$root"
  fi
  GO="$root/bin/go"
}

install_ferretdb() {
  if [ ! -x "$FERRETDB_BIN" ]; then
    install_go
    say "building FerretDB $FERRETDB_VERSION from the Go module proxy"
    mkdir -p "$(dirname "$FERRETDB_BIN")"
    (cd "$INFRA/ferretdb" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$GO" build -trimpath -o "$FERRETDB_BIN.tmp" .)
    mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  fi
}

# What building Gavel itself needs besides Rust: a C toolchain for the bundled librdkafka.
install_build_tools() {
  command -v cargo >/dev/null \
    || fail "Rust is missing: install it with rustup (Gavel needs Rust 1.85 or newer)"
  local missing=()
  command -v cc >/dev/null || missing+=(build-essential)
  command -v make >/dev/null || missing+=(make)
  command -v perl >/dev/null || missing+=(perl)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

install_all() {
  install_build_tools
  install_postgres
  install_kafka
  install_ferretdb
}

# --- helpers -----------------------------------------------------------------------------------

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() {
  local file="$RUN_DIR/$1.pid"
  [ -f "$file" ] && kill -0 "$(cat "$file")" 2>/dev/null
}

# Runs a PostgreSQL tool as the owner of the data folder: PostgreSQL refuses to run as root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Waits until `$2...` succeeds for component $1; on time-out prints the tail of its log and fails.
wait_ready() {
  local name=$1; shift
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then
      return 1
    fi
    sleep 0.5
  done
}

log_tail() {
  printf '[stack] --- last lines of %s ---\n' "$LOG_DIR/$1.log" >&2
  tail -n 40 "$LOG_DIR/$1.log" >&2 2>/dev/null || true
}

# Starts component $1 with start_$1, waits for ready_$1, and retries once after stopping it,
# because a first start on a loaded two-core machine can be slow.
bring_up() {
  local name=$1 attempt
  if "ready_$name"; then
    say "$name already running"
    return 0
  fi
  for attempt in 1 2; do
    say "starting $name (attempt $attempt)"
    "start_$name"
    if wait_ready "$name" "ready_$name"; then
      say "$name ready"
      return 0
    fi
    say "$name not ready after ${READY_TIMEOUT}s"
    "stop_$name" || true
  done
  log_tail "$name"
  fail "$name failed to start; its log is $LOG_DIR/$name.log"
}

stop_pidfile() {
  local name=$1 pid i
  pid_alive "$name" || { rm -f "$RUN_DIR/$name.pid"; return 0; }
  pid=$(cat "$RUN_DIR/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$RUN_DIR/$name.pid"
}

# --- PostgreSQL --------------------------------------------------------------------------------

PG_DATA="$DATA_DIR/postgres"
PG_LOG="$LOG_DIR/postgres.log"

# PostgreSQL runs as the postgres OS user when we are root. If that user cannot reach the stack
# folder (a checkout under /root, say), the cluster lives in its home instead, one per stack
# folder, and the stack folder links to it.
place_postgres() {
  [ "$(id -u)" = 0 ] || return 0
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  chmod 755 "$STACK_HOME" "$DATA_DIR" "$LOG_DIR"
  runuser -u postgres -- test -x "$DATA_DIR" && runuser -u postgres -- test -x "$LOG_DIR" && return 0
  local home
  home="$(getent passwd postgres | cut -d: -f6)/gavel-stacks/$(printf '%s' "$STACK_HOME" | md5sum | cut -c1-16)"
  mkdir -p "$home"
  chown postgres:postgres "$(dirname "$home")" "$home"
  ln -sfn "$home/data" "$PG_DATA"
  ln -sfn "$home/postgres.log" "$PG_LOG"
  PG_DATA="$home/data"
  PG_LOG="$home/postgres.log"
}

ready_postgres() {
  local bin; bin=$(pg_bindir) || return 1
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres
}

start_postgres() {
  install_postgres
  local bin; bin=$(pg_bindir)
  mkdir -p "$DATA_DIR" "$LOG_DIR" "$RUN_DIR"
  place_postgres
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    rm -rf "$PG_DATA" && mkdir -p "$PG_DATA"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_DATA"; fi
    as_pg "$bin/initdb" -D "$PG_DATA" -U "$PG_USER" --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$LOG_DIR/postgres-initdb.log"
  fi
  touch "$PG_LOG"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_LOG"; fi
  # Only loopback TCP: no Unix socket folder to own, nothing reachable from outside.
  as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='' -c max_connections=300" start >/dev/null \
    || true
}

stop_postgres() {
  local bin; bin=$(pg_bindir) || return 0
  if [ -L "$PG_DATA" ]; then PG_DATA=$(readlink "$PG_DATA"); fi
  [ -f "$PG_DATA/postmaster.pid" ] || return 0
  as_pg "$bin/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
}

# The event store and FerretDB each get a database of their own.
create_databases() {
  local bin db; bin=$(pg_bindir)
  for db in gavel ferretdb; do
    if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$db"
      say "created database $db"
    fi
  done
  # Without these, every FerretDB lookup by _id scans its whole collection (see the file).
  PGOPTIONS='-c client_min_messages=warning' "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" \
    -d ferretdb -v ON_ERROR_STOP=1 -q -f "$INFRA/ferretdb/lookup-indexes.sql" >/dev/null
}

# --- Kafka -------------------------------------------------------------------------------------

KAFKA_DATA="$DATA_DIR/kafka"
KAFKA_CONF="$STACK_HOME/kafka"

write_kafka_config() {
  mkdir -p "$KAFKA_CONF"
  cat >"$KAFKA_CONF/server.properties" <<EOF
# One node that is both broker and controller (KRaft), for local use and tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
EOF
  cat >"$KAFKA_CONF/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$LOG_DIR/kafka.log
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.raft=WARN
EOF
}

ready_kafka() {
  pid_alive kafka && port_open "$KAFKA_PORT" \
    && grep -q 'Kafka Server started' "$LOG_DIR/kafka.log" 2>/dev/null
}

start_kafka() {
  install_kafka
  mkdir -p "$DATA_DIR" "$LOG_DIR" "$RUN_DIR"
  write_kafka_config
  local java_opts=(-Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$KAFKA_CONF/log4j.properties")
  if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$KAFKA_LIB/*" "${java_opts[@]}" kafka.tools.StorageTool random-uuid)
    java -cp "$KAFKA_LIB/*" "${java_opts[@]}" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$KAFKA_CONF/server.properties" >>"$LOG_DIR/kafka.log" 2>&1
  fi
  # A fresh log per start, so readiness sees this start's "started" line and not an old one.
  : >"$LOG_DIR/kafka.log"
  nohup setsid java -cp "$KAFKA_LIB/*" "${java_opts[@]}" kafka.Kafka "$KAFKA_CONF/server.properties" \
    >>"$LOG_DIR/kafka.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/kafka.pid"
}

stop_kafka() { stop_pidfile kafka; }

# --- FerretDB ----------------------------------------------------------------------------------

ready_ferretdb() { pid_alive ferretdb && port_open "$FERRETDB_PORT"; }

start_ferretdb() {
  install_ferretdb
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  ready_postgres || fail "ferretdb needs postgres: run '$0 start postgres' first"
  create_databases
  # At Go's default GOGC=100 FerretDB spends about a fifth of its processor time per document
  # update collecting garbage; 400, capped by GOMEMLIMIT, gives that time back
  # (docs/performance.md).
  GOGC=400 GOMEMLIMIT=1GiB nohup setsid "$FERRETDB_BIN" -listen-addr "127.0.0.1:$FERRETDB_PORT" \
    -postgresql-url "postgres://$PG_USER@127.0.0.1:$PG_PORT/ferretdb" \
    >>"$LOG_DIR/ferretdb.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/ferretdb.pid"
}

stop_ferretdb() { stop_pidfile ferretdb; }

# --- commands ----------------------------------------------------------------------------------

print_env() {
  cat <<EOF
GAVEL_POSTGRES_URL=postgres://$PG_USER@127.0.0.1:$PG_PORT/gavel
GAVEL_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
GAVEL_MONGODB_URL=mongodb://127.0.0.1:$FERRETDB_PORT/
EOF
}

status() {
  local name state
  for name in "${COMPONENTS[@]}"; do
    if "ready_$name"; then state=running; else state=stopped; fi
    printf '%-9s %-8s log: %s\n' "$name" "$state" "$LOG_DIR/$name.log"
  done
}

check_component() {
  case "${1:-}" in
    postgres|kafka|ferretdb) ;;
    *) fail "unknown component '${1:-}'; expected one of: ${COMPONENTS[*]}" ;;
  esac
}

main() {
  local cmd=${1:-}
  case "$cmd" in
    up)
      install_all
      bring_up postgres
      create_databases
      bring_up kafka
      bring_up ferretdb
      say "stack is up"
      print_env | sed 's/^/[stack]   /'
      ;;
    down)
      stop_ferretdb; stop_kafka; stop_postgres
      say "stack is down"
      ;;
    status) status ;;
    start)
      check_component "${2:-}"
      bring_up "$2"
      if [ "$2" = postgres ]; then create_databases; fi
      ;;
    stop)
      check_component "${2:-}"
      "stop_$2"
      say "$2 stopped"
      ;;
    install) install_all ;;
    env) print_env ;;
    *)
      sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
      [ -z "$cmd" ] || exit 2
      ;;
  esac
}

main "$@"
