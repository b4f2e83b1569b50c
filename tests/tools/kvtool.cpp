// kvtool: a small CLI over ovl::kv::ConsulClient, used by tests/e2e/test_consul_client.py.
//
//   kvtool [--store URL] [--config JSON] [--prefix P] [--resend-self] COMMAND ARGS...
//   (--resend-self: cas, delcas and txn are Resend::SelfIdentifying)
//   ping | get KEY | put KEY VALUE | cas KEY VALUE INDEX | del KEY | delcas KEY INDEX | deltree PREFIX
//   list PREFIX | keys PREFIX | watch PREFIX INDEX WAITMS | key RELATIVE
//   feed PREFIX MS  (follows PREFIX with a kv::ChangeFeed for MS ms; prints how many changes it saw)
//   repeat N COMMAND ARGS...  (N times on one client: keep-alive; prints the last result, timing on stderr)
//   txn  (stdin: [{"verb":"set|cas|get|delete|delete-cas|delete-tree|check-index|check-not-exists",
//                  "key":K,"value":V,"index":N}, ...])
//
// The CONSUL_* environment fills what the options leave unset. Results are JSON on stdout, exit 0;
// a lost cas/delcas or a rolled-back txn exits 1; errors print CNI-style {"code","msg","details"} on
// stdout and exit with the code (11 = try again later, 7 = invalid config, 6 = decode).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "kv/change_feed.hpp"
#include "kv/consul.hpp"
#include "kv/consul_json.hpp"
#include "kv/leader_reader.hpp"
#include "util/log.hpp"

using namespace ovl;
using namespace ovl::kv;

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

void writePair(Writer& w, const KvPair& p) {
  w.StartObject();
  w.Key("key");
  str(w, p.key);
  w.Key("value");
  str(w, p.value);
  w.Key("createIndex");
  w.Uint64(p.createIndex);
  w.Key("modifyIndex");
  w.Uint64(p.modifyIndex);
  w.Key("flags");
  w.Uint64(p.flags);
  w.EndObject();
}

int printError(const Error& e) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  w.Key("code");
  w.Int(static_cast<int>(e.code));
  w.Key("msg");
  str(w, e.msg);
  w.Key("details");
  str(w, e.details);
  w.EndObject();
  std::printf("%s\n", b.GetString());
  return static_cast<int>(e.code);
}

Result<uint64_t> number(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    return fail(Code::InvalidConfig, "not a number: " + std::string(s));
  return v;
}

Result<std::vector<TxnOp>> readTxn() {
  std::string in((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  rapidjson::Document d;
  d.Parse(in.data(), in.size());
  if (d.HasParseError() || !d.IsArray()) return fail(Code::Decode, "txn: stdin must be a JSON array of operations");
  std::vector<TxnOp> ops;
  for (const auto& o : d.GetArray()) {
    if (!o.IsObject() || !o.HasMember("verb") || !o["verb"].IsString() || !o.HasMember("key") || !o["key"].IsString())
      return fail(Code::Decode, "txn: each operation needs string verb and key");
    TxnOp op{TxnOp::Set, o["key"].GetString(), {}, 0};
    std::string_view verb = o["verb"].GetString();
    bool known = false;
    for (int v = TxnOp::Set; v <= TxnOp::CheckNotExists; ++v)
      if (verb == txnVerbName(TxnOp::Verb(v))) op.verb = TxnOp::Verb(v), known = true;
    if (!known) return fail(Code::Decode, "txn: unknown verb " + std::string(verb));
    if (o.HasMember("value") && o["value"].IsString())
      op.value.assign(o["value"].GetString(), o["value"].GetStringLength());
    if (o.HasMember("index") && o["index"].IsUint64()) op.index = o["index"].GetUint64();
    ops.push_back(std::move(op));
  }
  return ops;
}

Resend gResend = Resend::OnlyIfUnsent;

Result<int> run(ConsulClient& c, const std::vector<std::string>& a, Writer& w) {
  auto need = [&](size_t n) -> Result<void> {
    if (a.size() != n + 1) return fail(Code::InvalidConfig, a[0] + ": expected " + std::to_string(n) + " arguments");
    return {};
  };
  const std::string& cmd = a[0];
  if (cmd == "ping") {
    TRY_VOID(need(0));
    TRY_VOID(c.ping());
    w.Bool(true);
  } else if (cmd == "get") {
    TRY_VOID(need(1));
    auto p = TRY(c.get(a[1]));
    if (!p) {
      w.Null();
      return 1;
    }
    writePair(w, *p);
  } else if (cmd == "put") {
    TRY_VOID(need(2));
    TRY_VOID(c.put(a[1], a[2]));
    w.Bool(true);
  } else if (cmd == "cas" || cmd == "delcas") {
    bool isCas = cmd == "cas";
    TRY_VOID(need(isCas ? 3 : 2));
    auto index = TRY(number(a[isCas ? 3 : 2]));
    bool ok = isCas ? TRY(c.cas(a[1], a[2], index, gResend)) : TRY(c.deleteCas(a[1], index, gResend));
    w.Bool(ok);
    return ok ? 0 : 1;
  } else if (cmd == "del") {
    TRY_VOID(need(1));
    TRY_VOID(c.deleteKey(a[1]));
    w.Bool(true);
  } else if (cmd == "deltree") {
    TRY_VOID(need(1));
    TRY_VOID(c.deleteTree(a[1]));
    w.Bool(true);
  } else if (cmd == "list" || cmd == "watch" || cmd == "watch-stale") {
    std::vector<KvPair> pairs;
    uint64_t index = 0;
    if (cmd == "list") {
      TRY_VOID(need(1));
      pairs = TRY(c.list(a[1]));
    } else {
      TRY_VOID(need(3));
      auto waitIndex = TRY(number(a[2]));
      auto waitMs = TRY(number(a[3]));
      auto from = cmd == "watch" ? ConsulClient::ReadFrom::Leader : ConsulClient::ReadFrom::AnyServer;
      auto watch = TRY(c.listBlocking(a[1], waitIndex, static_cast<long>(waitMs), nullptr, from));
      pairs = std::move(watch.pairs);
      index = watch.index;
    }
    w.StartObject();
    w.Key("index");
    w.Uint64(index);
    w.Key("pairs");
    w.StartArray();
    for (const auto& p : pairs) writePair(w, p);
    w.EndArray();
    w.EndObject();
  } else if (cmd == "trees" || cmd == "leader-trees" || cmd == "leader-trees-now") {
    // One read of several prefixes; the leader's by its address once asked who leads (-now: without waiting).
    if (a.size() < 2) return fail(Code::InvalidConfig, cmd + ": expected one or more prefixes");
    const std::vector<std::string> prefixes(a.begin() + 1, a.end());
    std::vector<ConsulClient::Watch> trees;
    if (cmd == "trees") {
      trees = TRY(c.readTrees(prefixes));
    } else {
      auto reader = TRY(LeaderReader::start(c.config()));
      if (cmd == "leader-trees" && !reader->waitAsked(std::chrono::milliseconds(c.config().requestTimeoutMs)))
        std::fprintf(stderr, "who leads: not asked in time, reading in the list's order\n");
      trees = TRY(reader->readTrees(prefixes));
      std::fprintf(stderr, "first: %s\n", reader->first().c_str());
    }
    w.StartArray();
    for (const auto& t : trees) {
      w.StartObject();
      w.Key("index");
      w.Uint64(t.index);
      w.Key("pairs");
      w.StartArray();
      for (const auto& p : t.pairs) writePair(w, p);
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
  } else if (cmd == "feed") {
    TRY_VOID(need(2));
    const auto ms = TRY(number(a[2]));
    ChangeFeed feed(c.config());
    feed.follow({a[1]});
    const std::atomic<bool> never{false};
    uint64_t changes = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now())
      changes += feed.wait(std::chrono::duration_cast<std::chrono::milliseconds>(until - now), never).prefixes.size();
    w.StartObject();
    w.Key("changes");
    w.Uint64(changes);
    w.EndObject();
  } else if (cmd == "keys") {
    TRY_VOID(need(1));
    auto keys = TRY(c.keys(a[1]));
    w.StartArray();
    for (const auto& k : keys) str(w, k);
    w.EndArray();
  } else if (cmd == "txn") {
    TRY_VOID(need(0));
    auto ops = TRY(readTxn());
    auto r = TRY(c.txn(ops, gResend));
    w.StartObject();
    w.Key("committed");
    w.Bool(r.committed);
    w.Key("results");
    w.StartArray();
    for (const auto& p : r.results) writePair(w, p);
    w.EndArray();
    w.Key("errors");
    w.StartArray();
    for (const auto& e : r.errors) str(w, e);
    w.EndArray();
    w.EndObject();
    return r.committed ? 0 : 1;
  } else if (cmd == "key") {
    TRY_VOID(need(1));
    str(w, c.key(a[1]));
  } else {
    return fail(Code::InvalidConfig, "unknown command " + cmd);
  }
  return 0;
}

Result<int> mainImpl(int argc, char** argv) {
  ConsulConfig cfg;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    bool hasValue = i + 1 < argc;
    if (a == "--store" && hasValue) {
      auto parsed = TRY(parseStoreUrl(argv[++i]));
      cfg.addresses = std::move(parsed.addresses);
    } else if (a == "--config" && hasValue) {
      rapidjson::Document d;
      d.Parse(argv[++i]);
      if (d.HasParseError()) return fail(Code::Decode, "--config is not valid JSON");
      TRY_VOID(parseConsulObject(d, cfg, "consul"));
    } else if (a == "--prefix" && hasValue) {
      cfg.prefix = argv[++i];
    } else if (a == "--resend-self") {
      gResend = Resend::SelfIdentifying;
    } else {
      args.emplace_back(a);
    }
  }
  if (args.empty()) return fail(Code::InvalidConfig, "usage: kvtool [--store URL] [--config JSON] COMMAND ARGS");
  applyEnvDefaults(cfg);
  auto client = TRY(ConsulClient::create(std::move(cfg)));
  long repeat = 1;
  if (args[0] == "repeat" && args.size() > 2) {
    repeat = static_cast<long>(TRY(number(args[1])));
    args.erase(args.begin(), args.begin() + 2);
  }
  rapidjson::StringBuffer b;
  int rc = 0;
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < repeat; ++i) {
    b.Clear();
    Writer w(b);
    rc = TRY(run(client, args, w));
  }
  if (repeat > 1) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "%ld x %s: %.1f us each\n", repeat, args[0].c_str(), double(us) / double(repeat));
  }
  std::printf("%s\n", b.GetString());
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  log::init("kvtool");
  auto rc = mainImpl(argc, argv);
  if (!rc) return printError(rc.error());
  return *rc;
}
