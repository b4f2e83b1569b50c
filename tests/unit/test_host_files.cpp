// The files a host reads. Its identity (common/model/identity): a machine ID that is missing or empty is
// refused, naming the file, rather than claiming the host name with an identity the host's other programs do
// not share.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "model/identity.hpp"

using namespace ovl;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ovl-hostfiles-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
    return path + "/" + name;
  }
};

}  // namespace

TEST_CASE("identity: the machine ID file's first line, with the network namespace") {
  TempDir d;
  auto id = model::readMachineId(d.write("machine-id", "0123456789abcdef0123456789abcdef  \nignored\n"));
  REQUIRE(id);
  CHECK(id->starts_with("0123456789abcdef0123456789abcdef@ns"));
}

TEST_CASE("identity: a missing or empty machine ID is an error naming the file") {
  TempDir d;
  auto missing = model::readMachineId(d.path + "/absent");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Code::Io);
  CHECK(missing.error().msg.find(d.path + "/absent") != std::string::npos);
  for (const char* text : {"", "\n", "  \r\n"}) {
    auto empty = model::readMachineId(d.write("machine-id", text));
    REQUIRE_FALSE(empty);
    CHECK(empty.error().msg.find(d.path + "/machine-id") != std::string::npos);
    CHECK(empty.error().msg.find("empty") != std::string::npos);
  }
}
