#include "model/memory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "cni/json.hpp"
#include "util/log.hpp"
#include "util/file.hpp"

namespace ovl::model {
namespace {

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string attName(std::string_view net, std::string_view cid, std::string_view ifName) {
  return "att-" + hex(fnv1a(std::string(net) + "/" + std::string(cid) + "/" + std::string(ifName))) + ".json";
}

std::string withdrawalName(const PendingWithdrawal& w) {
  return "withdraw-" + hex(fnv1a(w.network + "/" + w.containerId + "/" + w.ifName)) + ".json";
}

std::string leaseName(std::string_view pool, std::string_view cid, std::string_view ifName) {
  return "lease-" + hex(fnv1a(std::string(pool) + "/" + std::string(cid) + "/" + std::string(ifName))) + ".json";
}

std::optional<std::string> readFile(const std::string& path) {
  auto text = readSmallFile(path, 64u << 20);
  if (!text) return std::nullopt;
  return std::move(*text);
}

std::vector<std::string> filesStarting(const std::string& dir, std::string_view prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.starts_with(prefix) && n.ends_with(".json")) out.push_back(dir + "/" + std::string(n));
  }
  ::closedir(d);
  return out;
}

std::string field(const json::Value& d, const char* k) {
  const auto* v = json::member(d, k);
  return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string();
}

std::string wrap(std::initializer_list<std::pair<const char*, std::string>> fields) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  for (const auto& [k, v] : fields) {
    json::key(w, k);
    json::str(w, v);  // each record as its own JSON text: one codec per record (records.hpp)
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

Result<RememberedAttachment> parseAtt(const std::string& path, std::string_view text) {
  json::Doc d;
  TRY_VOID(json::parseInto(d, text, path));
  if (!d.IsObject()) return fail(Code::Decode, path + " is not a JSON object");
  RememberedAttachment r;
  auto att = field(d, "attachment");
  json::Doc a;
  TRY_VOID(json::parseInto(a, att, path));
  if (!a.IsObject()) return fail(Code::Decode, path + ": no attachment");
  r.attachment = TRY(parseAttachment(path, field(a, "network"), field(a, "host"), field(a, "containerID"),
                                     field(a, "ifname"), att));
  r.member = TRY(parseMember(path, r.attachment.host, field(d, "member")));
  if (auto def = field(d, "definition"); !def.empty())
    r.definition = TRY(parseDefinition(r.attachment.network, def));
  return r;
}

Result<RememberedLeases> parseLeases(const std::string& path, std::string_view text) {
  json::Doc d;
  TRY_VOID(json::parseInto(d, text, path));
  if (!d.IsObject()) return fail(Code::Decode, path + " is not a JSON object");
  RememberedLeases r;
  r.pool = field(d, "pool");
  r.lease = TRY(parseLease(path, field(d, "lease")));
  r.ips = TRY(parseOwnerIndex(path, field(d, "ips")));
  if (r.pool.empty() || r.ips.empty()) return fail(Code::Decode, path + " names no pool or no address");
  return r;
}

}  // namespace

Result<std::string> hostStateDir(const std::string& stateDir) {
  struct stat st{};
  if (::stat("/proc/thread-self/ns/net", &st) != 0) return fail(sysError(errno, "stat /proc/thread-self/ns/net"));
  std::string dir = stateDir + "/ns-" + std::to_string(st.st_ino);
  ::mkdir(stateDir.c_str(), 0700);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail(sysError(errno, "creating " + dir));
  return dir;
}

Result<HostMemory> HostMemory::open(const std::string& stateDir) {
  std::string dir = TRY(hostStateDir(stateDir)) + "/memory";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail(sysError(errno, "creating " + dir));
  return HostMemory(std::move(dir));
}

Result<void> HostMemory::remember(const RememberedAttachment& a) {
  const auto& at = a.attachment;
  return writeFileAtomically(dir_ + "/" + attName(at.network, at.containerId, at.ifName),
                         wrap({{"attachment", toJson(at)},
                               {"member", toJson(a.member)},
                               {"definition", a.definition ? definitionJson(*a.definition) : std::string()}}));
}

Result<void> HostMemory::remember(const RememberedLeases& l) {
  return writeFileAtomically(dir_ + "/" + leaseName(l.pool, l.lease.containerId, l.lease.ifName),
                         wrap({{"pool", l.pool}, {"lease", toJson(l.lease)}, {"ips", ownerIndexJson(l.ips)}}));
}

void HostMemory::forgetAttachment(std::string_view net, std::string_view cid, std::string_view ifName) {
  ::unlink((dir_ + "/" + attName(net, cid, ifName)).c_str());
}

void HostMemory::forgetLeases(std::string_view pool, std::string_view cid, std::string_view ifName) {
  ::unlink((dir_ + "/" + leaseName(pool, cid, ifName)).c_str());
}

Result<void> HostMemory::remember(const PendingWithdrawal& w) {
  return writeFileAtomically(dir_ + "/" + withdrawalName(w),
                         wrap({{"network", w.network}, {"containerID", w.containerId}, {"ifname", w.ifName}}));
}

void HostMemory::forget(const PendingWithdrawal& w) { ::unlink((dir_ + "/" + withdrawalName(w)).c_str()); }

std::vector<PendingWithdrawal> HostMemory::withdrawals() const {
  std::vector<PendingWithdrawal> out;
  for (const auto& path : filesStarting(dir_, "withdraw-")) {
    auto text = readFile(path);
    json::Doc d;
    if (!text || !json::tryParse(d, *text) || !d.IsObject()) continue;
    PendingWithdrawal w{field(d, "network"), field(d, "containerID"), field(d, "ifname")};
    if (!w.network.empty()) out.push_back(std::move(w));
  }
  return out;
}

std::vector<RememberedAttachment> HostMemory::attachments() const {
  std::vector<RememberedAttachment> out;
  for (const auto& path : filesStarting(dir_, "att-")) {
    auto text = readFile(path);
    if (!text) continue;  // forgotten meanwhile
    if (auto r = parseAtt(path, *text)) out.push_back(std::move(*r));
    else log::warn("ignoring " + path + ": " + r.error().msg);
  }
  return out;
}

std::vector<RememberedLeases> HostMemory::leases() const {
  std::vector<RememberedLeases> out;
  for (const auto& path : filesStarting(dir_, "lease-")) {
    auto text = readFile(path);
    if (!text) continue;
    if (auto r = parseLeases(path, *text)) out.push_back(std::move(*r));
    else log::warn("ignoring " + path + ": " + r.error().msg);
  }
  return out;
}

std::string HostMemory::readLine(const char* name) const {
  auto text = readFile(dir_ + "/" + name);
  if (!text) return {};
  while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
  return *text;
}

void HostMemory::writeLine(const char* name, std::string_view line) {
  if (auto r = writeFileAtomically(dir_ + "/" + name, std::string(line) + "\n"); !r) log::warn(r.error().msg);
}

std::string HostMemory::clusterId() const { return readLine("cluster-id"); }
void HostMemory::setClusterId(std::string_view id) { writeLine("cluster-id", id); }
std::string HostMemory::claim() const { return readLine("claim"); }
void HostMemory::setClaim(std::string_view token) { writeLine("claim", token); }

}  // namespace ovl::model
