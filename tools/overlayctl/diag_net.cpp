// diag: the checks of one overlay network on this host.
#include <algorithm>
#include <ctime>
#include <map>

#include "cni/json.hpp"
#include "model/keys.hpp"
#include "model/records.hpp"
#include "nl/fdb.hpp"
#include "nl/link.hpp"
#include "nl/vxlan.hpp"
#include "overlayctl/diag.hpp"
#include "overlayctl/snapshot.hpp"
#include "vxlan/allow_list.hpp"
#include "vxlan/names.hpp"

namespace ovl::ctl {
namespace {

constexpr int64_t kLeaseGraceSeconds = 60;  // an ADD in progress holds its lease before its veth exists

const MacAddr kZeroMac(std::array<uint8_t, 6>{});

int64_t parseIso(const std::string& s) {
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  return int64_t(timegm(&tm));
}

// A repair writes only over what diag read: a record another writer changed since is left alone.
Result<void> changedMeanwhile(bool done, const std::string& key) {
  if (done) return {};
  return fail(Code::TryAgainLater, key + " changed since diag read it: run diag again");
}

std::string memberJson(const std::string& host, const IpAddr& vtep, uint16_t port, uint32_t vni) {
  return model::toJson(model::Member{host, vtep, port, vni});
}

Result<vxlan::Underlay> needUnderlay(const DiagInput& in) {
  if (!in.underlay) return fail(Code::InvalidConfig, "cannot resolve this host's underlay: " + in.underlayError);
  return *in.underlay;
}

// The MTU the network's devices should have: what they or the containers' veths use, else computed.
unsigned networkMtu(const DiagInput& in, uint32_t vni, const std::vector<std::string>& veths) {
  if (const auto* br = in.link(vxlan::bridgeName(vni))) return br->mtu;
  for (const auto& v : veths)
    if (const auto* l = in.link(v)) return l->mtu;
  if (!in.underlay) return 1450;
  unsigned overhead = in.underlay->vtep.isV6() ? 70 : 50;
  return in.underlay->mtu > overhead + 576 ? in.underlay->mtu - overhead : 576;
}

struct NetCheck {
  DiagInput& in;
  const std::string& net;
  uint32_t vni;
  std::vector<const AttachView*> mine;
  const MemberView* member = nullptr;
  std::vector<Finding>& out;

  void add(std::string kind, std::string object, std::string meaning, std::function<Result<void>()> fix = {}) {
    out.push_back({net, std::move(kind), std::move(object), std::move(meaning), std::move(fix), ""});
  }

  std::vector<std::string> veths() const {
    std::vector<std::string> v;
    for (const auto* a : mine) v.push_back(vxlan::hostVethName(a->containerId, a->ifName));
    return v;
  }

  // Recreates or repairs the bridge and VXLAN device, re-enslaves the containers' veths, fills the flood list.
  std::function<Result<void>()> repairDevices() {
    auto& s = in.nl;
    const auto& st = in.snap.nets.at(net);
    auto members = st.members;
    auto vs = veths();
    unsigned mtu = networkMtu(in, vni, vs);
    auto u = needUnderlay(in);
    uint16_t port = in.port;
    uint32_t v = vni;
    const std::string stateDir = in.ctx.node.stateDir.value_or(kv::kDefaultStateDir), network = net;
    return [&s, members, vs, mtu, u, port, v, stateDir, network]() -> Result<void> {
      if (!u) return fail(u.error());
      // The plugins' lock for this network on this host: no ADD or DEL changes the devices meanwhile.
      auto lock = TRY(vxlan::HostLock::acquire(stateDir, network));
      auto dev = TRY(vxlan::ensureNetDevices(s, v, *u, port, mtu));
      for (const auto& name : vs)
        if (auto l = TRY(nl::findLink(s, name)); l && l->master != dev.bridge.index)
          TRY_VOID(nl::setLinkMaster(s, l->index, dev.bridge.index));
      std::vector<model::Member> ms;
      for (const auto& m : members)
        if (auto ip = IpAddr::parse(m.vtep)) ms.push_back({m.host, *ip, m.port});
      TRY_VOID(vxlan::reconcileFlood(s, dev.vxlan.index, u->vtep, ms, vxlan::FloodSync::Exact));
      return TRY(vxlan::AllowList::open()).sync(v, u->vtep, ms, vxlan::FloodSync::Exact);
    };
  }

  // The network's MTU as the members record it (the smallest); nullopt when no member records one.
  std::optional<unsigned> recordedMtu() const {
    std::optional<unsigned> m;
    for (const auto& mv : in.snap.nets.at(net).members)
      if (mv.mtu && (!m || mv.mtu < *m)) m = mv.mtu;
    return m;
  }

  Result<void> membership() {
    auto& kv = in.kv;
    const std::string key = model::Keys(kv.key("")).member(net, in.ctx.host);
    if (!mine.empty() && !member) {
      auto u = needUnderlay(in);
      std::string value = u ? memberJson(in.ctx.host, u->vtep, in.port, vni) : "";
      add("member-missing", "host " + in.ctx.host,
          "this host has containers on the network but is not a member: other hosts do not flood to it, so its "
          "containers are unreachable from them",
          [&kv, key, value, u]() -> Result<void> {
            if (!u) return fail(u.error());
            return changedMeanwhile(TRY(kv.cas(key, value, 0)), key);
          });
    } else if (mine.empty() && member) {
      add("member-stale", "host " + in.ctx.host,
          "this host is a member without containers on the network: other hosts flood its traffic here for nothing",
          [&kv, key, v = member->version]() -> Result<void> { return changedMeanwhile(TRY(kv.deleteCas(key, v)), key); });
    } else if (member && in.underlay && member->vtep != in.underlay->vtep.str()) {
      std::string value = memberJson(in.ctx.host, in.underlay->vtep, in.port, vni);
      add("member-vtep", "host " + in.ctx.host,
          "the store records VTEP " + member->vtep + " for this host but its underlay address is " +
              in.underlay->vtep.str() + ": other hosts send its traffic to the wrong address",
          [&kv, key, value, v = member->version]() -> Result<void> {
            return changedMeanwhile(TRY(kv.cas(key, value, v)), key);
          });
    }
    return {};
  }

  Result<void> devices() {
    const auto* br = in.link(vxlan::bridgeName(vni));
    auto vx = TRY(nl::findVxlan(in.nl, vxlan::vxlanName(vni)));
    if (mine.empty()) {
      if (!br && !vx) return {};
      bool ports = false;
      for (const auto& l : in.links)
        if (br && l.master == br->index && (!vx || l.index != vx->link.index)) ports = true;
      if (ports) return {};  // orphan veths are reported below
      auto& s = in.nl;
      uint32_t v = vni;
      add("devices-unused", vxlan::bridgeName(vni) + "," + vxlan::vxlanName(vni),
          "devices of the network remain on this host without containers", [&s, v]() { return vxlan::deleteNetDevices(s, v); });
      return {};
    }
    if (!br) {
      add("bridge-missing", vxlan::bridgeName(vni),
          "the network's bridge is gone: the containers on this host are cut off from each other and from other hosts",
          repairDevices());
      return {};
    }
    if (!vx) {
      add("vxlan-missing", vxlan::vxlanName(vni),
          "the VXLAN device is gone: containers on this host cannot reach containers on other hosts", repairDevices());
      return {};
    }
    std::string wrong;
    if (vx->vni != vni) wrong = "has vni " + std::to_string(vx->vni);
    else if (vx->link.master != br->index) wrong = "is not a port of " + br->name;
    else if (!vx->link.up) wrong = "is down";
    else if (in.underlay && !(vx->local == in.underlay->vtep)) wrong = "has local address " + vx->local.str();
    else if (vx->port != in.port) wrong = "uses UDP port " + std::to_string(vx->port);
    if (!wrong.empty()) {
      add("vxlan-misconfigured", vx->link.name, "the VXLAN device " + wrong + ": traffic to other hosts is lost",
          repairDevices());
      return {};
    }
    return flood(vx->link.index);
  }

  Result<void> flood(int vxIndex) {
    std::map<std::string, std::string> want;  // vtep -> host
    for (const auto& m : in.snap.nets.at(net).members)
      if (m.host != in.ctx.host && !(in.underlay && m.vtep == in.underlay->vtep.str())) want[m.vtep] = m.host;
    std::set<std::string> have;
    auto& s = in.nl;
    for (const auto& e : TRY(nl::dumpFdb(in.nl, vxIndex))) {
      if (!e.mac.isZero() || !e.dst) continue;
      const IpAddr dst = *e.dst;
      have.insert(dst.str());
      if (!want.count(dst.str()))
        add("flood-stale", "flood entry to " + dst.str(),
            "broadcasts are sent to " + dst.str() + ", which is not a member of the network",
            [&s, vxIndex, dst]() { return nl::deleteFdb(s, vxIndex, kZeroMac, dst); });
    }
    for (const auto& [vtep, host] : want) {
      if (have.count(vtep)) continue;
      auto ip = IpAddr::parse(vtep);
      add("flood-missing", "flood entry to " + vtep + " (" + host + ")",
          "broadcasts such as ARP do not reach host " + host + ": new conversations with its containers fail",
          [&s, vxIndex, ip]() -> Result<void> {
            if (!ip) return fail(Code::InvalidConfig, "the member record has no valid VTEP address");
            return nl::appendFdb(s, vxIndex, kZeroMac, *ip);
          });
    }
    return allowList(want);
  }

  // While a watcher enforces the VXLAN allow-list, a member missing from it is cut off from this host.
  Result<void> allowList(const std::map<std::string, std::string>& want) {
    auto allow = TRY(vxlan::AllowList::open());
    auto listing = TRY(allow.read());
    if (!listing.enforced) return {};
    const auto have = listing.vteps(vni);
    for (const auto& [vtep, host] : want) {
      auto ip = IpAddr::parse(vtep);
      if (!ip || have.count(*ip)) continue;
      add("allow-missing", "VXLAN from " + vtep + " (" + host + ")",
          "the allow-list drops VXLAN from member " + host + ": its containers cannot reach this host's",
          [v = vni, m = model::Member{host, *ip, 0, vni}]() -> Result<void> {
            return TRY(vxlan::AllowList::open()).sync(v, IpAddr(), {m}, vxlan::FloodSync::AddOnly);
          });
    }
    return {};
  }

  Result<void> attachments() {
    const auto* br = in.link(vxlan::bridgeName(vni));
    std::set<std::string> known;
    for (const auto* a : mine) {
      const std::string veth = vxlan::hostVethName(a->containerId, a->ifName);
      known.insert(veth);
      const auto* l = in.link(veth);
      const std::string who = "container " + describeContainer(*a) + " (" + a->ifName + ")";
      if (!l) {
        auto& kv = in.kv;
        const model::Keys keys(kv.key(""));
        std::string attKey = keys.attachment(net, in.ctx.host, a->containerId, a->ifName);
        using Op = kv::TxnOp;
        std::vector<Op> ops = {{Op::DeleteCas, attKey, "", a->version}};
        for (const auto* le : in.snap.leasesOfNetwork(net))
          if (le->containerId == a->containerId && le->ifName == a->ifName && le->host == in.ctx.host) {
            ops.push_back({Op::DeleteCas, keys.lease(le->pool, le->ip), "", le->version});
            const std::string owner = keys.owner(le->pool, in.ctx.host, a->containerId, a->ifName);
            if (std::none_of(ops.begin(), ops.end(), [&](const Op& o) { return o.key == owner; }))
              ops.push_back({Op::Delete, owner, "", 0});
          }
        add("attachment-stale", who,
            "the store records " + who + " on this host but its interface " + veth + " is gone: its address " +
                join(a->ips, ",") + " stays taken",
            [&kv, ops]() -> Result<void> {
              auto r = TRY(kv.txn(ops));
              if (!r.committed) return fail(Code::TryAgainLater, "the store refused the deletion: " + join(r.errors, "; "));
              return {};
            });
      } else if (br && l->master != br->index) {
        auto& s = in.nl;
        int idx = l->index, bri = br->index;
        add("veth-detached", veth, who + "'s interface is not on the network's bridge: the container is cut off",
            [&s, idx, bri]() { return nl::setLinkMaster(s, idx, bri); });
      }
      if (auto want = recordedMtu(); l && want && l->mtu != *want)
        add("mtu-mismatch", veth,
            who + " has MTU " + std::to_string(l->mtu) + " but the network's containers use " + std::to_string(*want) +
                " (the members' records): larger packets between them are dropped without an error; recreate the "
                "container (or give the network one 'mtu' on every host)");
      for (const auto& ip : a->ips) {
        auto net4 = IpNet::parse(ip, false);
        std::string addr = net4 ? net4->addr().str() : ip;
        bool leased = false;
        for (const auto* le : in.snap.leasesOfNetwork(net))
          if (le->ip == addr && le->containerId == a->containerId && le->host == a->host) leased = true;
        if (!leased)
          add("lease-missing", "address " + addr,
              who + " uses " + addr + " but the store holds no lease for it: it may be given to another container");
      }
    }
    if (br)
      for (const auto& l : in.links)
        if (l.master == br->index && l.name.rfind("ovv", 0) == 0 && !known.count(l.name))
          add("veth-orphan", l.name,
              "a container interface on the network that the store does not know (DEL never ran, or the record was "
              "lost): run the runtime's GC or remove the container");
    return {};
  }

  Result<void> leases() {
    const int64_t now = int64_t(std::time(nullptr));
    for (const auto* le : in.snap.leasesOfNetwork(net)) {
      if (le->host != in.ctx.host) continue;
      bool recorded = false;
      for (const auto* a : mine)
        if (a->containerId == le->containerId && a->ifName == le->ifName) recorded = true;
      if (recorded || in.link(vxlan::hostVethName(le->containerId, le->ifName))) continue;
      if (now - parseIso(le->time) < kLeaseGraceSeconds) continue;  // probably an ADD in progress
      auto& kv = in.kv;
      const model::Keys keys(kv.key(""));
      std::string leaseKey = keys.lease(le->pool, le->ip);
      std::string ownerKey = keys.owner(le->pool, le->host, le->containerId, le->ifName);
      uint64_t version = le->version;
      add("lease-stale", "lease " + le->ip,
          "address " + le->ip + " is leased to container " + le->containerId + " (" + le->ifName +
              "), which no longer exists on this host: the address cannot be given to another container",
          [&kv, leaseKey, ownerKey, version]() -> Result<void> {
            using Op = kv::TxnOp;
            auto r = TRY(kv.txn({{Op::DeleteCas, leaseKey, "", version}, {Op::Delete, ownerKey, "", 0}}));
            if (!r.committed) return fail(Code::TryAgainLater, "the lease changed meanwhile; run diag again");
            return {};
          });
    }
    return {};
  }
};

}  // namespace

const nl::LinkInfo* DiagInput::link(const std::string& name) const {
  for (const auto& l : links)
    if (l.name == name) return &l;
  return nullptr;
}

Result<void> diagNetwork(DiagInput& in, const std::string& net, std::vector<Finding>& out) {
  const NetView& n = in.snap.nets.at(net);
  NetCheck c{in, net, n.def->vni, {}, nullptr, out};
  for (const auto* a : in.snap.attachmentsOf(net))
    if (a->host == in.ctx.host) c.mine.push_back(a);
  for (const auto& m : n.members)
    if (m.host == in.ctx.host) c.member = &m;
  TRY_VOID(c.membership());
  TRY_VOID(c.devices());
  TRY_VOID(c.attachments());
  TRY_VOID(c.leases());
  return {};
}

Result<void> diagOrphanDevices(DiagInput& in, std::vector<Finding>& out) {
  std::set<uint32_t> known;
  for (const auto& [name, n] : in.snap.nets)
    if (n.def) known.insert(n.def->vni);
  std::set<uint32_t> seen;
  for (const auto& l : in.links) {
    uint32_t vni = vxlan::vniFromName(l.name);
    if (!vni || known.count(vni) || !seen.insert(vni).second) continue;
    const auto* br = in.link(vxlan::bridgeName(vni));
    bool ports = false;
    for (const auto& p : in.links)
      if (br && p.master == br->index && p.kind != "vxlan") ports = true;
    auto& s = in.nl;
    std::function<Result<void>()> fix;
    if (!ports) fix = [&s, vni]() { return vxlan::deleteNetDevices(s, vni); };
    out.push_back({"", "devices-orphan", vxlan::bridgeName(vni) + "," + vxlan::vxlanName(vni),
                   "devices of VNI " + std::to_string(vni) + ", which belongs to no network in the store" +
                       (ports ? " (containers are still attached: remove them first)" : ""),
                   fix, ""});
  }
  return {};
}

}  // namespace ovl::ctl
