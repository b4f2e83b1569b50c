#include "cni/skel.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "cni/by_hand.hpp"
#include "cni/version.hpp"
#include "util/ip.hpp"
#include "util/log.hpp"

namespace ovl::cni {
namespace {

enum class Verb { Add, Del, Check, Version, Status, Gc };

Result<Verb> parseVerb(const std::optional<std::string>& c) {
  if (!c || c->empty()) return fail(Code::InvalidEnv, "CNI_COMMAND is not set");
  if (*c == "ADD") return Verb::Add;
  if (*c == "DEL") return Verb::Del;
  if (*c == "CHECK") return Verb::Check;
  if (*c == "VERSION") return Verb::Version;
  if (*c == "STATUS") return Verb::Status;
  if (*c == "GC") return Verb::Gc;
  return fail(Code::InvalidEnv, "CNI_COMMAND '" + *c + "' is not one of ADD, DEL, CHECK, VERSION, STATUS, GC");
}

Result<std::string> requireEnv(const EnvLookup& env, std::string_view name) {
  auto v = env(name);
  if (!v || v->empty()) return fail(Code::InvalidEnv, std::string(name) + " is not set");
  return *v;
}

Result<CmdArgs> readEnv(const Plugin& p, const EnvLookup& env, Verb verb, std::string_view stdinData) {
  CmdArgs a;
  a.command = env("CNI_COMMAND").value_or("");
  a.path = env("CNI_PATH").value_or("");
  a.stdinData = std::string(stdinData);
  if (verb == Verb::Add || verb == Verb::Check || verb == Verb::Del) {
    a.containerId = TRY(requireEnv(env, "CNI_CONTAINERID"));
    if (!isValidIdentifier(a.containerId))
      return fail(Code::InvalidEnv, "CNI_CONTAINERID '" + a.containerId +
                                        "' is invalid: use letters, digits, '_', '.' and '-', starting with a letter "
                                        "or digit");
    a.ifName = TRY(requireEnv(env, "CNI_IFNAME"));
    TRY_VOID(validateIfName(a.ifName, "CNI_IFNAME"));
    if (verb == Verb::Del)
      a.netns = env("CNI_NETNS").value_or("");
    else
      a.netns = TRY(requireEnv(env, "CNI_NETNS"));
    a.argsText = env("CNI_ARGS").value_or("");
    a.args = TRY(parseCniArgs(a.argsText, p.extraArgKeys));
  }
  return a;
}

std::string versionJson(std::string_view version) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "cniVersion");
  json::str(w, version);
  json::key(w, "supportedVersions");
  w.StartArray();
  for (auto v : kSupportedVersions) json::str(w, v);
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

Result<void> requireVerbVersion(Verb verb, const NetConf& conf) {
  if (verb == Verb::Check && compareVersions(conf.cniVersion, "0.4.0") < 0)
    return fail(Code::IncompatibleVersion, "CHECK requires cniVersion 0.4.0 or later, got '" + conf.cniVersion + "'");
  if ((verb == Verb::Gc || verb == Verb::Status) && compareVersions(conf.cniVersion, "1.1.0") < 0)
    return fail(Code::IncompatibleVersion, std::string(verb == Verb::Gc ? "GC" : "STATUS") +
                                               " requires cniVersion 1.1.0 or later, got '" + conf.cniVersion + "'");
  return {};
}

Result<std::string> dispatch(const Plugin& p, const EnvLookup& env, std::string_view stdinData) {
  Verb verb = TRY(parseVerb(env("CNI_COMMAND")));
  if (stdinData.size() > kMaxStdin)
    return fail(Code::Decode, "stdin is larger than the limit of " + std::to_string(kMaxStdin) + " bytes");
  if (auto nul = stdinData.find('\0'); nul != std::string_view::npos)
    return fail(Code::Decode, "stdin contains a NUL byte at offset " + std::to_string(nul));

  if (verb == Verb::Version) {
    std::string ver(kLatestVersion);
    if (stdinData.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      auto conf = TRY(parseNetConf(stdinData, false));
      ver = conf.cniVersion;
    }
    return versionJson(ver);
  }

  CmdArgs args = TRY(readEnv(p, env, verb, stdinData));
  NetConf conf = TRY(parseNetConf(stdinData));
  TRY_VOID(requireVerbVersion(verb, conf));
  if (!args.containerId.empty())
    log::setTag("c=" + args.containerId.substr(0, 12) + " if=" + args.ifName + " net=" + conf.name);
  log::debug("CNI_COMMAND=" + args.command + " CNI_NETNS=" + args.netns);

  switch (verb) {
    case Verb::Add: {
      NetResult r = TRY(p.add(args, conf));
      return resultToJson(r, conf.cniVersion);
    }
    case Verb::Del: TRY_VOID(p.del(args, conf)); return std::string();
    case Verb::Check:
      if (!p.check) return fail(Code::UnsupportedField, p.name + " does not implement CHECK");
      TRY_VOID(p.check(args, conf));
      return std::string();
    case Verb::Gc:
      if (!p.gc) return std::string();
      TRY_VOID(p.gc(args, conf));
      return std::string();
    case Verb::Status:
      if (!p.status) return std::string();
      TRY_VOID(p.status(args, conf));
      return std::string();
    case Verb::Version: break;
  }
  return std::string();
}

}  // namespace

std::string errorJson(const Error& e, std::string_view version) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "cniVersion");
  json::str(w, version);
  json::key(w, "code");
  w.Int(static_cast<int>(e.code));
  json::key(w, "msg");
  json::str(w, e.msg);
  if (!e.details.empty()) {
    json::key(w, "details");
    json::str(w, e.details);
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

static std::string_view verbLabel(const EnvLookup& env) {
  auto v = parseVerb(env("CNI_COMMAND"));
  if (!v) return "invalid";
  static constexpr std::string_view kNames[] = {"ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"};
  return kNames[size_t(*v)];
}

Outcome runPlugin(const Plugin& p, const EnvLookup& env, std::string_view stdinData) {
  log::setTag("");
  const auto start = std::chrono::steady_clock::now();
  auto r = dispatch(p, env, stdinData);
  if (p.report)
    p.report(CallReport{p.name, verbLabel(env), r ? 0 : int(r.error().code), std::chrono::steady_clock::now() - start});
  if (r) return Outcome{0, std::move(*r)};
  log::error(r.error().msg);
  return Outcome{1, errorJson(r.error(), peekVersion(stdinData))};
}

static std::string readStdin() {
  std::string data;
  if (::isatty(0)) return data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, size_t(n));
    if (data.size() > kMaxStdin) break;  // dispatch reports it
  }
  return data;
}

static void writeAll(int fd, std::string_view s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += size_t(n);
  }
}

int pluginMain(const Plugin& p, int argc, char** argv) {
  log::init(p.name);
  // A delegate (IPAM) that exits without reading its stdin must be an EPIPE for us, not our death.
  ::signal(SIGPIPE, SIG_IGN);
  const EnvLookup env = [](std::string_view k) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(k).c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
  std::vector<std::string_view> args(argv + std::min(argc, 1), argv + argc);
  if (auto h = runByHand(p, env, args)) {
    writeAll(1, h->out);
    writeAll(2, h->err);
    return h->exitCode;
  }
  std::string in = readStdin();
  Outcome o = runPlugin(p, env, in);
  if (!o.out.empty()) {
    o.out.push_back('\n');
    writeAll(1, o.out);
  }
  return o.exitCode;
}

}  // namespace ovl::cni
