#include "gwbridge/conntrack_dump.hpp"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/netfilter/nfnl.h>

#include "metrics/tally.hpp"
#include "nl/error.hpp"

namespace ovl::gwbridge {
namespace {

// Tuple filter flags of CTA_FILTER_ORIG_FLAGS / CTA_FILTER_REPLY_FLAGS. Kernel ABI since 5.9, defined in
// net/netfilter/nf_internals.h, not in the uapi headers.
constexpr uint32_t kFilterIpSrc = 1u << 0;
constexpr uint32_t kFilterProtoNum = 1u << 3;
constexpr uint32_t kFilterProtoDstPort = 1u << 5;

struct Tuple {
  std::optional<IpAddr> src;
  uint8_t proto = 0;
  uint16_t dport = 0;
  uint32_t flags() const {
    return (src ? kFilterIpSrc : 0) | (proto ? kFilterProtoNum : 0) | (dport ? kFilterProtoDstPort : 0);
  }
};

bool putTuple(nl_msg* m, int type, const Tuple& t) {
  nlattr* tuple = nla_nest_start(m, type);
  if (!tuple) return false;
  if (t.src) {
    nlattr* ip = nla_nest_start(m, CTA_TUPLE_IP);
    if (!ip) return false;
    int attr = t.src->isV4() ? CTA_IP_V4_SRC : CTA_IP_V6_SRC;
    if (nla_put(m, attr, t.src->isV4() ? 4 : 16, t.src->bytes()) < 0) return false;
    nla_nest_end(m, ip);
  }
  if (t.proto) {
    nlattr* proto = nla_nest_start(m, CTA_TUPLE_PROTO);
    if (!proto || nla_put_u8(m, CTA_PROTO_NUM, t.proto) < 0) return false;
    if (t.dport && nla_put_u16(m, CTA_PROTO_DST_PORT, htons(t.dport)) < 0) return false;
    nla_nest_end(m, proto);
  }
  nla_nest_end(m, tuple);
  return true;
}

Result<nl::MsgPtr> dumpRequest(const CtQuery& q) {
  nl::MsgPtr msg(nfnlmsg_alloc_simple(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET, NLM_F_DUMP, uint8_t(q.family), 0));
  if (!msg) return fail(nl::nlError(-NLE_NOMEM, "building a conntrack dump request"));
  const bool v4 = q.family == AF_INET;
  Tuple orig{v4 ? q.origSrc : std::nullopt, q.proto, q.origDport};
  Tuple reply{v4 ? q.replySrc : std::nullopt, 0, 0};
  bool ok = true;
  if (orig.flags()) ok = putTuple(msg.get(), CTA_TUPLE_ORIG, orig);
  if (ok && reply.flags()) ok = putTuple(msg.get(), CTA_TUPLE_REPLY, reply);
  if (ok && (orig.flags() || reply.flags())) {
    nlattr* filter = nla_nest_start(msg.get(), CTA_FILTER);
    ok = filter && nla_put_u32(msg.get(), CTA_FILTER_ORIG_FLAGS, orig.flags()) >= 0 &&
         nla_put_u32(msg.get(), CTA_FILTER_REPLY_FLAGS, reply.flags()) >= 0;
    if (ok) nla_nest_end(msg.get(), filter);
  }
  if (!ok) return fail(nl::nlError(-NLE_MSGSIZE, "building a conntrack dump request"));
  return msg;
}

struct Collect {
  const std::function<bool(nfnl_ct&)>* keep;
  std::vector<CtPtr> hits;
  bool failed = false;
};

int onEntry(nl_msg* m, void* arg) {
  auto* c = static_cast<Collect*>(arg);
  nfnl_ct* raw = nullptr;
  if (nfnlmsg_ct_parse(nlmsg_hdr(m), &raw) < 0) return NL_OK;  // not an entry we can read
  CtPtr ct(raw);
  try {
    if ((*c->keep)(*ct)) c->hits.push_back(std::move(ct));
  } catch (...) {
    c->failed = true;
  }
  return NL_OK;
}

}  // namespace

Result<nl::SockPtr> openCtSocket() {
  nl::SockPtr sock(nl_socket_alloc());
  if (!sock) return fail(nl::nlError(-NLE_NOMEM, "allocating a netfilter netlink socket"));
  if (int err = nl_connect(sock.get(), NETLINK_NETFILTER); err < 0)
    return fail(nl::nlError(err, "connecting a netfilter netlink socket"));
  return sock;
}

Result<std::vector<CtPtr>> dumpConntrack(nl_sock* s, const CtQuery& q, const std::function<bool(nfnl_ct&)>& keep) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  auto msg = TRY(dumpRequest(q));
  if (int err = nl_send_auto(s, msg.get()); err < 0) return fail(nl::nlError(err, "requesting a conntrack dump"));
  nl::CbPtr cb(nl_cb_alloc(NL_CB_DEFAULT));
  if (!cb) return fail(nl::nlError(-NLE_NOMEM, "dumping conntrack entries"));
  Collect c{&keep, {}};
  nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, onEntry, &c);
  if (int err = nl_recvmsgs(s, cb.get()); err < 0) return fail(nl::nlError(err, "dumping conntrack entries"));
  if (c.failed) return fail(nl::nlError(-NLE_NOMEM, "dumping conntrack entries"));
  return std::move(c.hits);
}

Result<bool> deleteConntrack(nl_sock* s, const nfnl_ct& ct) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  int err = nfnl_ct_del(s, &ct, 0);
  if (err >= 0) return true;
  if (nl::nlAbsent(err)) return false;
  return fail(nl::nlError(err, "deleting a conntrack entry"));
}

}  // namespace ovl::gwbridge
