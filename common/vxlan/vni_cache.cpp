#include "vxlan/vni_cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

#include "model/memory.hpp"
#include "model/records.hpp"
#include "util/file.hpp"
#include "util/unique_fd.hpp"

namespace ovl::vxlan {

void rememberVni(const std::string& stateDir, const std::string& network, uint32_t vni) {
  auto dir = model::hostStateDir(stateDir);
  if (!dir) return;
  std::string path = *dir + "/" + network + ".vni";
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  const std::string text = std::to_string(vni) + "\n";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd || ::write(fd.get(), text.data(), text.size()) != ssize_t(text.size())) {
    ::unlink(tmp.c_str());
    return;  // a cache: the store has the VNI
  }
  fd.reset();
  ::rename(tmp.c_str(), path.c_str());
}

std::optional<uint32_t> recallVni(const std::string& stateDir, const std::string& network) {
  auto dir = model::hostStateDir(stateDir);
  if (!dir) return std::nullopt;
  auto text = readSmallFile(*dir + "/" + network + ".vni", 64);
  if (!text || !*text) return std::nullopt;
  const std::string_view t = firstLine(**text);
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec == std::errc() && end == t.data() + t.size() && v > 0 && v <= model::kMaxVni) return v;
  return std::nullopt;
}

std::vector<std::pair<std::string, uint32_t>> rememberedNetworks(const std::string& stateDir) {
  std::vector<std::pair<std::string, uint32_t>> out;
  struct stat st{};
  if (::stat("/proc/thread-self/ns/net", &st) != 0) return out;
  // Not model::hostStateDir: listing must not create the directory.
  std::string dir = stateDir + "/ns-" + std::to_string(st.st_ino);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".vni") == 0) {
      std::string net = n.substr(0, n.size() - 4);
      if (auto v = recallVni(stateDir, net)) out.emplace_back(net, *v);
    }
  }
  ::closedir(d);
  return out;
}

}  // namespace ovl::vxlan
