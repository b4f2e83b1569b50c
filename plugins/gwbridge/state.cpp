#include "gwbridge/state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "cni/json.hpp"
#include "kv/node_config.hpp"
#include "model/memory.hpp"
#include "nfnl/gwbridge_names.hpp"
#include "util/log.hpp"

namespace ovl::gwbridge {
namespace {

Result<void> ensureDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail(sysError(errno, "creating " + dir));
  return {};
}

Result<std::string> recordPath(std::string_view network, std::string_view containerId, std::string_view ifName) {
  if (!isValidIdentifier(network)) return fail(Code::InvalidConfig, "network name '" + std::string(network) + "'");
  return TRY(gwStateDir()) + "/" + std::string(network) + "/" + gwnames::hostVethName(containerId, ifName) + ".json";
}

std::string toJson(const AttachmentRecord& r) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  for (auto [k, v] : {std::pair{"network", &r.network}, {"containerID", &r.containerId}, {"ifname", &r.ifName},
                      {"bridge", &r.bridge}}) {
    json::key(w, k);
    json::str(w, *v);
  }
  json::key(w, "addrs");
  w.StartArray();
  for (const auto& a : r.addrs) json::str(w, a.str());
  w.EndArray();
  json::key(w, "ports");
  w.StartArray();
  for (const auto& p : r.ports) {
    w.StartObject();
    json::key(w, "protocol");
    json::str(w, protoName(p.proto));
    json::key(w, "hostPort");
    w.Uint(p.hostPort);
    json::key(w, "containerPort");
    w.Uint(p.containerPort);
    if (p.hostIp) {
      json::key(w, "hostIP");
      json::str(w, p.hostIp->str());
    }
    w.EndObject();
  }
  w.EndArray();
  json::key(w, "elements");
  w.StartArray();
  for (const auto& e : r.elements) {
    w.StartArray();
    for (const auto* s : {&e.family, &e.set, &e.key, &e.value}) json::str(w, *s);
    w.EndArray();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize()) + "\n";
}

Result<AttachmentRecord> fromJson(std::string_view text, const std::string& path) {
  json::Doc d;
  TRY_VOID(json::parseInto(d, text, path));
  if (!d.IsObject()) return fail(Code::Decode, path + " is not an object");
  AttachmentRecord r;
  r.network = TRY(json::reqString(d, "network", ""));
  r.containerId = TRY(json::reqString(d, "containerID", ""));
  r.ifName = TRY(json::reqString(d, "ifname", ""));
  r.bridge = TRY(json::reqString(d, "bridge", ""));
  for (const auto& a : TRY(json::optStringArray(d, "addrs", "")))
    if (auto n = IpNet::parse(a)) r.addrs.push_back(*n);
  r.ports = TRY(parsePortMappings(json::member(d, "ports"), "ports"));
  if (const auto* es = json::member(d, "elements"); es && es->IsArray())
    for (const auto& e : es->GetArray()) {
      if (!e.IsArray() || e.Size() != 4 || !e[0].IsString() || !e[1].IsString() || !e[2].IsString() ||
          !e[3].IsString())
        return fail(Code::Decode, path + ": an element is not [family, set, key, value]");
      r.elements.push_back({e[0].GetString(), e[1].GetString(), e[2].GetString(), e[3].GetString()});
    }
  return r;
}

std::optional<std::string> readFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  return out;
}

}  // namespace

Result<std::string> gwStateDir() {
  static std::string cached;  // one process serves one host: read the node config once
  if (!cached.empty()) return cached;
  auto node = TRY(kv::loadNodeConfig());
  const std::string base = node.stateDir && !node.stateDir->empty() ? *node.stateDir : kv::kDefaultStateDir;
  const std::string dir = TRY(model::hostStateDir(base)) + "/gwbridge";
  TRY_VOID(ensureDir(dir));
  cached = dir;
  return dir;
}

Result<BridgeLock> BridgeLock::take(int op) {
  const std::string path = TRY(gwStateDir()) + "/bridges.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail(sysError(errno, "opening lock " + path));
  while (::flock(fd.get(), op) != 0)
    if (errno != EINTR) return fail(sysError(errno, "locking " + path));
  return BridgeLock(std::move(fd));
}

Result<BridgeLock> BridgeLock::shared() { return take(LOCK_SH); }
Result<BridgeLock> BridgeLock::exclusive() { return take(LOCK_EX); }

Result<void> writeRecord(const AttachmentRecord& r) {
  const std::string path = TRY(recordPath(r.network, r.containerId, r.ifName));
  TRY_VOID(ensureDir(path.substr(0, path.rfind('/'))));
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  const std::string text = toJson(r);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return fail(sysError(errno, "writing " + tmp));
  const bool ok = ::write(fd.get(), text.data(), text.size()) == ssize_t(text.size());
  fd.reset();
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return fail(sysError(err, "writing " + path));
  }
  return {};
}

std::optional<AttachmentRecord> readRecord(std::string_view network, std::string_view containerId,
                                           std::string_view ifName) {
  auto path = recordPath(network, containerId, ifName);
  if (!path) return std::nullopt;
  auto text = readFile(*path);
  if (!text) return std::nullopt;
  auto r = fromJson(*text, *path);
  if (!r) {
    log::warn(r.error().msg + ", ignoring the record");
    return std::nullopt;
  }
  return std::move(*r);
}

Result<void> removeRecord(std::string_view network, std::string_view containerId, std::string_view ifName) {
  const std::string path = TRY(recordPath(network, containerId, ifName));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail(sysError(errno, "removing " + path));
  return {};
}

std::vector<AttachmentRecord> listRecords(std::string_view network) {
  std::vector<AttachmentRecord> out;
  auto base = gwStateDir();
  if (!base || !isValidIdentifier(network)) return out;
  const std::string dir = *base + "/" + std::string(network);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return out;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    if (!name.ends_with(".json")) continue;
    auto text = readFile(dir + "/" + name);
    if (!text) continue;
    if (auto r = fromJson(*text, dir + "/" + name); r && r->network == network)
      out.push_back(std::move(*r));
    else if (!r)
      log::warn(r.error().msg + ", ignoring the record");
  }
  return out;
}

}  // namespace ovl::gwbridge
