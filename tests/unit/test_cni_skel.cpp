#include <doctest/doctest.h>

#include <map>

#include "cni/skel.hpp"

using namespace ovl;
using namespace ovl::cni;

namespace {

struct Fixture {
  std::map<std::string, std::string, std::less<>> env = {
      {"CNI_COMMAND", "ADD"}, {"CNI_CONTAINERID", "c1"}, {"CNI_NETNS", "/run/netns/c1"},
      {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/opt/cni/bin"},
  };
  std::string lastVerb;
  std::string lastNetns;
  Plugin plugin;

  Fixture() {
    plugin.name = "test";
    plugin.add = [this](const CmdArgs& a, const NetConf& c) -> Result<NetResult> {
      lastVerb = "ADD";
      lastNetns = a.netns;
      NetResult r;
      r.interfaces.push_back({a.ifName, "02:00:00:00:00:01", 1400, a.netns, "", ""});
      r.ips.push_back({*IpNet::parse("10.0.0.2/24"), IpAddr::parse("10.0.0.1"), 0});
      if (c.name == "failing") return fail(Code::InvalidConfig, "field 'vni' is 0");
      return r;
    };
    plugin.del = [this](const CmdArgs& a, const NetConf&) -> Result<void> {
      lastVerb = "DEL";
      lastNetns = a.netns;
      return {};
    };
    plugin.check = [this](const CmdArgs&, const NetConf&) -> Result<void> {
      lastVerb = "CHECK";
      return {};
    };
    plugin.gc = [this](const CmdArgs&, const NetConf& c) -> Result<void> {
      lastVerb = "GC";
      REQUIRE(c.validAttachments);
      return {};
    };
  }

  Outcome run(std::string_view stdinData) {
    return runPlugin(
        plugin,
        [this](std::string_view k) -> std::optional<std::string> {
          auto it = env.find(k);
          if (it == env.end()) return std::nullopt;
          return it->second;
        },
        stdinData);
  }

  // Runs and expects a failure with `code` whose message contains `needle`.
  void expectError(std::string_view stdinData, Code code, std::string_view needle) {
    Outcome o = run(stdinData);
    CAPTURE(o.out);
    CHECK(o.exitCode != 0);
    json::Doc d;
    d.Parse(o.out.c_str());
    REQUIRE_FALSE(d.HasParseError());
    CHECK(d["code"].GetInt() == int(code));
    CHECK(std::string(d["msg"].GetString()).find(needle) != std::string::npos);
    CHECK(d.HasMember("cniVersion"));
    CHECK(lastVerb.empty());
  }
};

const char* kConf = R"({"cniVersion":"1.0.0","name":"over","type":"test"})";

}  // namespace

TEST_CASE("ADD prints the result in the requested version") {
  for (auto v : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    Fixture f;
    std::string conf = std::string(R"({"cniVersion":")") + v + R"(","name":"over","type":"test"})";
    Outcome o = f.run(conf);
    CHECK(o.exitCode == 0);
    CHECK(o.out.find(std::string("\"cniVersion\":\"") + v + "\"") != std::string::npos);
    CHECK(f.lastVerb == "ADD");
  }
}

TEST_CASE("plugin errors become CNI error JSON with the config's version") {
  Fixture f;
  Outcome o = f.run(R"({"cniVersion":"0.4.0","name":"failing","type":"test"})");
  CHECK(o.exitCode == 1);
  CHECK(o.out == R"({"cniVersion":"0.4.0","code":7,"msg":"field 'vni' is 0"})");
}

TEST_CASE("VERSION lists the supported versions, with or without stdin") {
  Fixture f;
  f.env = {{"CNI_COMMAND", "VERSION"}};
  Outcome o = f.run("");
  CHECK(o.exitCode == 0);
  CHECK(o.out == R"({"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]})");
  o = f.run(R"({"cniVersion":"0.4.0"})");
  CHECK(o.out.find(R"("cniVersion":"0.4.0")") != std::string::npos);
  f.expectError(R"({"cniVersion":"0.2.0"})", Code::IncompatibleVersion, "'0.2.0'");
}

TEST_CASE("environment faults give code 4 naming the variable") {
  {
    Fixture f;
    f.env.erase("CNI_COMMAND");
    f.expectError(kConf, Code::InvalidEnv, "CNI_COMMAND is not set");
  }
  {
    Fixture f;
    f.env["CNI_COMMAND"] = "";
    f.expectError(kConf, Code::InvalidEnv, "CNI_COMMAND is not set");
  }
  {
    Fixture f;
    f.env["CNI_COMMAND"] = "BOOT";
    f.expectError(kConf, Code::InvalidEnv, "CNI_COMMAND 'BOOT'");
  }
  for (auto var : {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"}) {
    Fixture f;
    f.env.erase(var);
    f.expectError(kConf, Code::InvalidEnv, std::string(var) + " is not set");
    Fixture g;
    g.env[var] = "";
    g.expectError(kConf, Code::InvalidEnv, std::string(var) + " is not set");
  }
  {
    Fixture f;
    f.env["CNI_CONTAINERID"] = "abc;rm -rf";
    f.expectError(kConf, Code::InvalidEnv, "CNI_CONTAINERID 'abc;rm -rf'");
  }
  {
    Fixture f;
    f.env["CNI_CONTAINERID"] = "-abc";
    f.expectError(kConf, Code::InvalidEnv, "CNI_CONTAINERID '-abc'");
  }
  {
    Fixture f;
    f.env["CNI_IFNAME"] = "averyveryverylongname";
    f.expectError(kConf, Code::InvalidEnv, "CNI_IFNAME 'averyveryverylongname'");
  }
  {
    Fixture f;
    f.env["CNI_IFNAME"] = "eth/0";
    f.expectError(kConf, Code::InvalidEnv, "CNI_IFNAME 'eth/0'");
  }
  {
    Fixture f;
    f.env["CNI_ARGS"] = "IgnoreUnknown=0;FOO=1";
    f.expectError(kConf, Code::InvalidEnv, "'FOO'");
  }
}

TEST_CASE("DEL accepts an empty CNI_NETNS, GC and STATUS need no container variables") {
  Fixture f;
  f.env["CNI_COMMAND"] = "DEL";
  f.env["CNI_NETNS"] = "";
  Outcome o = f.run(kConf);
  CHECK(o.exitCode == 0);
  CHECK(o.out.empty());
  CHECK(f.lastVerb == "DEL");
  CHECK(f.lastNetns.empty());

  Fixture g;
  g.env = {{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/opt/cni/bin"}};
  o = g.run(R"({"cniVersion":"1.1.0","name":"over","type":"test","cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]})");
  CHECK(o.exitCode == 0);
  CHECK(g.lastVerb == "GC");
}

TEST_CASE("stdin faults: bad JSON, wrong types, versions, size, NUL") {
  Fixture f;
  f.expectError("{\"cniVersion\":", Code::Decode, "not valid JSON");
  f.expectError("[]", Code::Decode, "must be a JSON object");
  f.expectError(R"({"cniVersion":"1.0.0","name":"over"} x)", Code::Decode, "not valid JSON");
  f.expectError(R"({"name":"over","type":"test"})", Code::IncompatibleVersion, "'0.1.0'");
  f.expectError(R"({"cniVersion":"9.9.9","name":"over","type":"test"})", Code::IncompatibleVersion, "'9.9.9'");
  f.expectError(R"({"cniVersion":1,"name":"over","type":"test"})", Code::InvalidConfig, "'cniVersion' must be a string");
  f.expectError(R"({"cniVersion":"1.0.0","type":"test"})", Code::InvalidConfig, "'name' is required");
  f.expectError(R"({"cniVersion":"1.0.0","name":"bad name","type":"test"})", Code::InvalidConfig, "'bad name'");
  f.expectError(R"({"cniVersion":"1.0.0","name":"over","ipam":"x"})", Code::InvalidConfig, "'ipam' must be an object");
  f.expectError(R"({"cniVersion":"1.0.0","name":"over","ipam":{"type":"../x"}})", Code::InvalidConfig, "ipam.type");
  f.expectError(R"({"cniVersion":"1.0.0","name":"over","runtimeConfig":[]})", Code::InvalidConfig, "runtimeConfig");
  f.expectError(R"({"cniVersion":"1.0.0","name":"over","dns":{"nameservers":[1]}})", Code::InvalidConfig, "dns.nameservers");
  f.expectError(R"({"cniVersion":"1.0.0","name":"over","prevResult":{"ips":[{"address":"x"}]}})", Code::InvalidConfig,
                "prevResult.ips[0].address");
  std::string big(kMaxStdin + 10, ' ');
  f.expectError(big, Code::Decode, "larger than the limit");
  std::string nul = std::string(R"({"cniVersion":"1.0.0","name":"ov)") + '\0' + R"(er"})";
  f.expectError(nul, Code::Decode, "NUL byte at offset 32");
}

TEST_CASE("verbs newer than the config's version are refused") {
  Fixture f;
  f.env["CNI_COMMAND"] = "CHECK";
  f.expectError(R"({"cniVersion":"0.3.1","name":"over","type":"test"})", Code::IncompatibleVersion, "CHECK requires");
  Fixture g;
  g.env = {{"CNI_COMMAND", "GC"}};
  g.expectError(kConf, Code::IncompatibleVersion, "GC requires");
  Fixture h;
  h.env = {{"CNI_COMMAND", "STATUS"}};
  h.expectError(kConf, Code::IncompatibleVersion, "STATUS requires");
  Fixture k;
  k.env["CNI_COMMAND"] = "CHECK";
  CHECK(k.run(R"({"cniVersion":"0.4.0","name":"over","type":"test"})").exitCode == 0);
  CHECK(k.lastVerb == "CHECK");
}

TEST_CASE("GC reads the older cni.dev/attachments key too") {
  Fixture g;
  g.env = {{"CNI_COMMAND", "GC"}};
  Outcome o = g.run(R"({"cniVersion":"1.1.0","name":"over","cni.dev/attachments":[{"containerID":"c1","ifname":"eth0"}]})");
  CHECK(o.exitCode == 0);
  CHECK(g.lastVerb == "GC");
  Fixture h;
  h.env = {{"CNI_COMMAND", "GC"}};
  h.expectError(R"({"cniVersion":"1.1.0","name":"over","cni.dev/valid-attachments":[{"ifname":"eth0"}]})",
                Code::InvalidConfig, "cni.dev/valid-attachments[0].containerID");
}
