#include "overlayctl/conflist.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

namespace ovl::ctl {

std::string nameOnlyConflist(const std::string& net, std::string_view cniVersion) {
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("cniVersion"); w.String(cniVersion.data(), rapidjson::SizeType(cniVersion.size()));
  w.Key("name"); w.String(net.c_str());
  w.Key("plugins");
  w.StartArray();
  w.StartObject();
  w.Key("type"); w.String("overlay");
  w.Key("capabilities");
  w.StartObject();
  w.Key("ips"); w.Bool(true);
  w.Key("mac"); w.Bool(true);
  w.EndObject();
  w.Key("ipam");
  w.StartObject();
  w.Key("type"); w.String("overlay-ipam");
  w.Key("store"); w.String("consul");
  w.EndObject();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString()) + "\n";
}

}  // namespace ovl::ctl
