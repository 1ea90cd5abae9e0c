#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for tests and benchmarks: installs `slurm-wlm` and `munge` from
# Debian when they are missing, then starts munged, slurmctld and slurmd as root on localhost, with every file
# (keys, sockets, state, logs) in one folder. Source it, then call `slurm_start DIR` and `slurm_stop`:
#
#   source scripts/cluster/slurm-cluster.sh
#   slurm_start /tmp/slurm        # exports SLURM_CONF; sbatch, squeue, sacct work after it
#   ...
#   slurm_stop                    # stops everything slurm_start started (call it from an EXIT trap)
#
# Or, for a script in this repository: `slurm_workspace NAME` builds l2r (sets $l2r), makes a temporary folder
# ($work) with the cluster's files in $work/slurm, starts the cluster, and stops it and deletes $work on exit.

slurm_install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  echo "installing slurm-wlm and munge from Debian" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null
}

slurm_start() {
  local dir=$1 host cpus
  slurm_install
  SLURM_DIR=$(realpath -m "$dir")
  mkdir -p "$SLURM_DIR"/{munge,state,spool,logs}
  chmod 700 "$SLURM_DIR/munge"
  host=$(hostname)
  cpus=$(nproc)
  # A fresh key for this cluster only.
  dd if=/dev/urandom bs=1 count=1024 of="$SLURM_DIR/munge/munge.key" status=none
  chmod 400 "$SLURM_DIR/munge/munge.key"
  munged --force --key-file="$SLURM_DIR/munge/munge.key" --socket="$SLURM_DIR/munge/munge.socket" \
    --pid-file="$SLURM_DIR/munge/munged.pid" --log-file="$SLURM_DIR/logs/munged.log" \
    --seed-file="$SLURM_DIR/munge/munged.seed"
  cat > "$SLURM_DIR/slurm.conf" <<CONF
ClusterName=l2r-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$SLURM_DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/logs/slurmctld.log
SlurmdLogFile=$SLURM_DIR/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$SLURM_DIR/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  local i
  for i in $(seq 60); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      return 0
    fi
    sleep 1
  done
  echo "the Slurm node did not come up; logs in $SLURM_DIR/logs" >&2
  sinfo >&2 || true
  tail -20 "$SLURM_DIR"/logs/*.log >&2 || true
  return 1
}

slurm_stop() {
  [ -n "${SLURM_DIR:-}" ] || return 0
  local pidfile pid
  for pidfile in "$SLURM_DIR/slurmd.pid" "$SLURM_DIR/slurmctld.pid" "$SLURM_DIR/munge/munged.pid"; do
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  SLURM_DIR=
}

slurm_workspace() {
  local name=$1 repo
  repo=$(pwd)
  cargo build --release --quiet
  l2r="$repo/target/release/l2r"
  export L2R_ASSETS=${L2R_ASSETS:-$repo/assets}
  work=$(mktemp -d "/tmp/l2r-$name.XXXXXX")
  trap 'slurm_stop; rm -rf "$work"' EXIT
  slurm_start "$work/slurm"
}
