#include "ipam/journal.hpp"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "cni/json.hpp"
#include "ipam/fs.hpp"
#include "util/ip.hpp"
#include "util/file.hpp"
#include "util/log.hpp"

namespace ovl::ipam {
namespace {

constexpr std::string_view kPrefix = "ipam-";
constexpr std::string_view kSuffix = ".json";
constexpr time_t kStaleClaimSeconds = 60;

std::string entryJson(const PendingRelease& p) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  for (auto [k, v] : {std::pair<const char*, const std::string*>{"kind", nullptr},
                      {"store", &p.store},
                      {"pool", &p.pool},
                      {"containerID", &p.containerId},
                      {"ifname", &p.ifName},
                      {"time", &p.time}}) {
    json::key(w, k);
    json::str(w, v ? *v : std::string("ipam-release"));
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::optional<PendingRelease> parseEntry(std::string_view text) {
  json::Doc doc;
  if (!json::tryParse(doc, text) || !doc.IsObject()) return std::nullopt;
  auto get = [&](const char* k) -> std::string {
    const auto* v = json::member(doc, k);
    return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string();
  };
  if (get("kind") != "ipam-release") return std::nullopt;
  PendingRelease p{get("store"), get("pool"), get("containerID"), get("ifname"), get("time")};
  if (p.pool.empty() || p.containerId.empty()) return std::nullopt;
  return p;
}

}  // namespace

Result<void> Journal::add(const PendingRelease& p) {
  TRY_VOID(fs::makeDirs(dir_, 0700));
  char hex[17];
  std::snprintf(
      hex, sizeof hex, "%016llx",
      static_cast<unsigned long long>(fnv1a(p.store + "\n" + p.pool + "\n" + p.containerId + "\n" + p.ifName)));
  return fs::writeFileAtomic(dir_ + "/" + std::string(kPrefix) + hex + std::string(kSuffix), entryJson(p), 0600);
}

Result<size_t> Journal::replay(std::string_view store, std::string_view pool,
                               const std::function<Result<void>(const PendingRelease&)>& release) {
  auto names = TRY(fs::listDir(dir_));  // no directory: nothing pending (the common case)
  struct Entry {
    std::string name;
    timespec written;
  };
  std::vector<Entry> entries;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  for (const auto& n : names) {
    if (!n.starts_with(kPrefix)) continue;
    bool pending = n.ends_with(kSuffix);
    bool claimed = n.find(std::string(kSuffix) + ".claim") != std::string::npos;
    if (!pending && !claimed) continue;
    struct stat st {};
    if (::stat((dir_ + "/" + n).c_str(), &st) != 0) continue;
    if (claimed && now.tv_sec - st.st_ctim.tv_sec < kStaleClaimSeconds) continue;  // another call is on it
    entries.push_back({n, st.st_mtim});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.written.tv_sec != b.written.tv_sec ? a.written.tv_sec < b.written.tv_sec
                                                : a.written.tv_nsec < b.written.tv_nsec;
  });
  size_t applied = 0;
  for (const auto& e : entries) {
    std::string path = dir_ + "/" + e.name;
    auto text = TRY(readSmallFile(path, 65536));
    if (!text) continue;  // taken by another call
    auto p = parseEntry(*text);
    if (!p) {
      log::warn("ignoring unreadable journal entry " + path);
      continue;
    }
    if (p->store != store || p->pool != pool) continue;
    std::string base = e.name.substr(0, e.name.find(kSuffix) + kSuffix.size());
    std::string claim = dir_ + "/" + base + ".claim" + std::to_string(::getpid());
    if (::rename(path.c_str(), claim.c_str()) != 0) continue;  // another call claimed it first
    if (auto ok = release(*p); !ok) {
      ::rename(claim.c_str(), (dir_ + "/" + base).c_str());
      return std::unexpected(std::move(ok.error()));
    }
    TRY_VOID(fs::removeFile(claim));
    log::info("replayed the pending release of container " + p->containerId + " (" + p->ifName + ") in pool " +
              p->pool + " from " + p->time);
    ++applied;
  }
  return applied;
}

}  // namespace ovl::ipam
