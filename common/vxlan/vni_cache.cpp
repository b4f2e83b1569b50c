#include "vxlan/vni_cache.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "model/memory.hpp"
#include "model/records.hpp"

namespace ovl::vxlan {

void rememberVni(const std::string& stateDir, const std::string& network, uint32_t vni) {
  auto dir = model::hostStateDir(stateDir);
  if (!dir) return;
  std::string path = *dir + "/" + network + ".vni";
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp);
    f << vni << "\n";
  }
  ::chmod(tmp.c_str(), 0600);
  ::rename(tmp.c_str(), path.c_str());
}

std::optional<uint32_t> recallVni(const std::string& stateDir, const std::string& network) {
  auto dir = model::hostStateDir(stateDir);
  if (!dir) return std::nullopt;
  std::ifstream f(*dir + "/" + network + ".vni");
  uint32_t v = 0;
  if (f >> v && v > 0 && v <= model::kMaxVni) return v;
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
