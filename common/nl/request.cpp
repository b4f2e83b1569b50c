#include "nl/request.hpp"

#include <netlink/errno.h>
#include <netlink/msg.h>

#include <string>

#include "metrics/tally.hpp"
#include "nl/error.hpp"

namespace ovl::nl {
namespace {

constexpr int kDumpAttempts = 5;

struct DumpState {
  const std::function<void(nl_msg*)>* onMsg;
  bool failed = false;
};

int onValid(nl_msg* m, void* arg) {
  auto* st = static_cast<DumpState*>(arg);
  try {
    (*st->onMsg)(m);
  } catch (...) {
    st->failed = true;  // keep reading so the rest of the dump does not linger on the socket
  }
  return NL_OK;
}

void parseTrampoline(nl_object* obj, void* arg) {
  (*static_cast<const std::function<void(nl_object*)>*>(arg))(obj);
}

}  // namespace

int sendSync(Socket& s, MsgPtr msg) { return nl_send_sync(s.get(), msg.release()); }  // frees msg

Result<void> dumpBuilt(Socket& s, const std::function<MsgPtr()>& build, std::string_view what,
                       const std::function<void()>& reset, const std::function<void(nl_msg*)>& onMsg) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  CbPtr base(nl_socket_get_cb(s.get()));
  CbPtr cb(base ? nl_cb_clone(base.get()) : nullptr);
  if (!cb) return fail(nlError(-NLE_NOMEM, "dumping " + std::string(what)));
  DumpState st{&onMsg};
  nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, onValid, &st);

  int err = 0;
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    reset();
    st.failed = false;
    MsgPtr msg = build();
    if (!msg) {
      err = -NLE_NOMEM;
      break;
    }
    err = nl_send_auto(s.get(), msg.get());
    if (err < 0) break;
    err = nl_recvmsgs(s.get(), cb.get());
    if (err != -NLE_DUMP_INTR) break;
  }
  if (err < 0) return fail(nlError(err, "dumping " + std::string(what)));
  if (st.failed) return fail(nlError(-NLE_NOMEM, "dumping " + std::string(what)));
  return {};
}

Result<void> dumpRaw(Socket& s, int msgType, const void* hdr, size_t hdrLen, std::string_view what,
                     const std::function<void()>& reset, const std::function<void(nl_msg*)>& onMsg) {
  return dumpBuilt(
      s,
      [&]() -> MsgPtr {
        MsgPtr m(nlmsg_alloc_simple(msgType, NLM_F_DUMP));
        if (m && nlmsg_append(m.get(), const_cast<void*>(hdr), hdrLen, NLMSG_ALIGNTO) < 0) m.reset();
        return m;
      },
      what, reset, onMsg);
}

Result<void> requestRaw(Socket& s, MsgPtr msg, std::string_view what, const std::function<void(nl_msg*)>& onMsg) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  CbPtr base(nl_socket_get_cb(s.get()));
  CbPtr cb(base ? nl_cb_clone(base.get()) : nullptr);
  if (!cb) return fail(nlError(-NLE_NOMEM, std::string(what)));
  DumpState st{&onMsg};
  nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, onValid, &st);
  int err = nl_send_auto(s.get(), msg.get());
  if (err >= 0) err = nl_recvmsgs(s.get(), cb.get());
  // The answer came; the acknowledgement libnl asked for (NLM_F_ACK) follows it: read it too, or the next
  // request on this socket would find it first.
  if (err >= 0 && (nlmsg_hdr(msg.get())->nlmsg_flags & NLM_F_ACK)) err = nl_wait_for_ack(s.get());
  if (err < 0) return fail(nlError(err, std::string(what)));
  if (st.failed) return fail(nlError(-NLE_NOMEM, std::string(what)));
  return {};
}

void parseObject(nl_msg* m, const std::function<void(nl_object*)>& fn) {
  nl_msg_parse(m, parseTrampoline, const_cast<std::function<void(nl_object*)>*>(&fn));
}

}  // namespace ovl::nl
