#include "overlayctl/conflist.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iostream>

namespace ovl::ctl {

std::string nameOnlyConflist(const std::string& net, const ConflistOptions& o) {
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("cniVersion"); w.String(o.cniVersion.data(), rapidjson::SizeType(o.cniVersion.size()));
  w.Key("name"); w.String(net.c_str());
  w.Key("plugins");
  w.StartArray();
  w.StartObject();
  w.Key("type"); w.String("overlay");
  w.Key("capabilities");
  w.StartObject();
  w.Key("ips"); w.Bool(true);
  w.Key("mac"); w.Bool(true);
  w.Key("aliases"); w.Bool(true);  // podman --network-alias
  w.EndObject();
  w.Key("ipam");
  w.StartObject();
  w.Key("type"); w.String("overlay-ipam");
  w.Key("store"); w.String("consul");
  w.EndObject();
  w.EndObject();
  if (o.gwbridge) {
    w.StartObject();
    w.Key("type"); w.String("gwbridge");
    w.Key("capabilities");
    w.StartObject();
    w.Key("portMappings"); w.Bool(true);  // -p
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString()) + "\n";
}

Result<void> installConflist(const std::string& dir, const std::string& net, const std::string& text) {
  const std::string path = dir + "/" + net + ".conflist";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    if (!f) return fail(Code::Io, "cannot write " + tmp + " (does directory '" + dir + "' exist?)");
    f << text;
    if (!f.flush()) return fail(Code::Io, "writing " + tmp + " failed");
  }
  ::chmod(tmp.c_str(), 0644);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return fail(Code::Io, "cannot install " + path);
  }
  std::cerr << "wrote " << path << "\n";
  return {};
}

}  // namespace ovl::ctl
