#!/usr/bin/env bash
# Installs one group of diego on a plain Debian VM, as root:
#
#   deploy/vm/install.sh ROLE INDEX [VARS]
#
# ROLE is an instance group of deploy/bosh/manifests/diego.yml (etcd, nats,
# database, brain, access, cell, cc-bridge) and INDEX this VM's index in it; the VM's
# address must be the manifest's static IP for it (or edit the manifest).
# VARS is the deployment's variables file (certificates): generate it once
# (the first run writes it) and copy the same file to every VM.
#
# It installs the binaries of bin/ (make build) to /usr/local/bin, renders
# the VM's configs and certificates from the BOSH release's templates into
# /etc/diego/<job>/, installs deploy/systemd's units, the diego user, the
# service names of /etc/hosts (bbs.service.cf.internal, ...: use real DNS
# where you have it), and the packages the group needs, then starts the
# units in order. CC_ADDRESS, when set, is the address cc.service.cf.internal
# names (CC's internal API, for the cc-bridge and the doppler).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "${here}/../.." && pwd)

role=${1:?usage: install.sh ROLE INDEX [VARS]}
index=${2:?usage: install.sh ROLE INDEX [VARS]}
vars=${3:-/etc/diego/vars.json}
manifest=${MANIFEST:-${repo}/deploy/bosh/manifests/diego.yml}

case "${role}" in
  # metron first on every VM: the others send it their logs and metrics.
  etcd) units=(metron etcd) ;;
  nats) units=(metron nats) ;;
  database) units=(metron bbs) ;;
  brain) units=(metron auctioneer converger metrics-server) ;;
  access) units=(metron doppler receptor route-emitter router) ;;
  cell) units=(metron garden executor rep) ;;
  cc-bridge) units=(metron file-server stager nsync tps) ;;
  *) echo "install.sh: unknown role ${role} (etcd, nats, database, brain, access, cell, cc-bridge)" >&2; exit 2 ;;
esac
binary() { case "$1" in etcd) echo diego-etcd ;; nats) echo diego-nats ;; *) echo "$1" ;; esac; }

[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
need=(ruby)
[ "${role}" = cell ] && need+=(runc iptables e2fsprogs)
missing=()
for pkg in "${need[@]}"; do dpkg -s "${pkg}" >/dev/null 2>&1 || missing+=("${pkg}"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

for unit in "${units[@]}" ; do
  b=$(binary "${unit}")
  [ -x "${repo}/bin/${b}" ] || { echo "install.sh: bin/${b} is missing: run make build" >&2; exit 1; }
  install -m 0755 "${repo}/bin/${b}" /usr/local/bin/
done
[ "${role}" = cell ] && install -m 0755 "${repo}/bin/healthcheck" /usr/local/bin/
if [ "${role}" = cc-bridge ]; then
  # The file-server's static directory: the lifecycle bundles make build
  # writes to bin/static (the BOSH release's lifecycles package).
  [ -d "${repo}/bin/static" ] || { echo "install.sh: bin/static is missing: run make build" >&2; exit 1; }
  rm -rf /var/lib/diego/static
  cp -r "${repo}/bin/static" /var/lib/diego/static
  chmod -R a+rX /var/lib/diego/static
fi

id diego >/dev/null 2>&1 || useradd --system --home-dir /var/lib/diego --shell /usr/sbin/nologin diego
install -d -m 0755 /etc/diego /var/lib/diego
install -d -m 0750 -o diego -g diego /var/lib/diego/etcd /var/lib/diego/executor

staging=$(mktemp -d)
trap 'rm -rf "${staging}"' EXIT
mkdir -p "$(dirname "${vars}")"
"${repo}/bin/diego-multivm" render -release "${repo}/deploy/bosh" -manifest "${manifest}" \
  -vars "${vars}" -group "${role}" -index "${index}" -out "${staging}"
chmod 0600 "${vars}"
for unit in "${units[@]}"; do
  rm -rf "/etc/diego/${unit}"
  cp -r "${staging}/etc/diego/${unit}" /etc/diego/
  # Garden runs as root; the others as diego, who must read their keys.
  [ "${unit}" = garden ] || chown -R root:diego "/etc/diego/${unit}"
  chmod -R g+rX,o-rwx "/etc/diego/${unit}"
  install -m 0644 "${repo}/deploy/systemd/diego-${unit}.service" /etc/systemd/system/
done

# The service names clients use, each resolving to every instance of its
# group (as BOSH DNS aliases do): the addresses are the manifest's.
ruby -ryaml -e '
  names = { "database" => %w[bbs.service.cf.internal], "etcd" => %w[etcd.service.cf.internal],
            "nats" => %w[nats.service.cf.internal],
            "access" => %w[receptor.service.cf.internal doppler.service.cf.internal],
            "cc-bridge" => %w[stager.service.cf.internal file-server.service.cf.internal] }
  m = YAML.safe_load(File.read(ARGV[0]), aliases: true)
  m["instance_groups"].each do |g|
    next unless names[g["name"]]
    g["networks"].first["static_ips"].each { |ip| puts "#{ip} #{names[g["name"]].join(" ")}" }
  end' "${manifest}" > "${staging}/hosts"
# CC's internal API (the stager, nsync, TPS and doppler call it): CC_ADDRESS
# is its address, when no DNS names it.
[ -n "${CC_ADDRESS:-}" ] && echo "${CC_ADDRESS} cc.service.cf.internal" >> "${staging}/hosts"
sed -i '/# diego service names$/d' /etc/hosts
sed 's/$/ # diego service names/' "${staging}/hosts" >> /etc/hosts

install -d -m 0755 /usr/share/doc/diego
install -m 0644 "${repo}/docs/deploy.md" /usr/share/doc/diego/ 2>/dev/null || true
systemctl daemon-reload
for unit in "${units[@]}"; do
  systemctl enable --now "diego-${unit}.service"
done
echo "installed ${role}/${index}: ${units[*]}"
