// The attachment listings overlay watch hands to overlay-resolver (common/model/shared_listings): the file
// format round-trips any bytes and refuses what is cut or malformed; the files count only while a watcher
// holds the lock, a second watcher is refused, and a watcher that stops leaves no file behind.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "model/shared_listings.hpp"

using namespace ovl;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ovl-listings-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::vector<kv::KvPair> sample() {
  kv::KvPair a{"overlay-cni/attachments/blue/h1/c1/eth0", R"({"ips":["10.0.0.2/24"],"names":["web"]})", 0, 17, 0};
  kv::KvPair b{"overlay-cni/attachments/blue/h2/c2/eth0", std::string("odd\n12 3 4\n\0bytes", 18), 0, 42, 0};
  kv::KvPair c{"overlay-cni/attachments/blue/h2/c3/eth0", "", 0, 43, 0};
  return {a, b, c};
}

}  // namespace

TEST_CASE("shared listing: any key and value bytes round-trip, with their ModifyIndex") {
  const auto pairs = sample();
  auto back = model::decodeListing(model::encodeListing(pairs));
  REQUIRE(back);
  REQUIRE(back->size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK((*back)[i].key == pairs[i].key);
    CHECK((*back)[i].value == pairs[i].value);
    CHECK((*back)[i].modifyIndex == pairs[i].modifyIndex);
  }
  auto empty = model::decodeListing(model::encodeListing({}));
  REQUIRE(empty);
  CHECK(empty->empty());
}

TEST_CASE("shared listing: a cut, malformed or foreign file is refused, naming the record") {
  const std::string whole = model::encodeListing(sample());
  for (size_t cut : {whole.size() - 1, whole.size() - 20, size_t(20)}) {
    auto r = model::decodeListing(std::string_view(whole).substr(0, cut));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::Decode);
  }
  CHECK_FALSE(model::decodeListing("ovl-listing 1\n1 99999999999 2\nkv"));
  CHECK_FALSE(model::decodeListing("ovl-listing 1\n1 0 2\nkv"));       // a record without a key
  CHECK_FALSE(model::decodeListing("ovl-listing 1\n-1 1 1\nkv"));
  CHECK_FALSE(model::decodeListing("ovl-listing 1\n1 1 1 \nkv"));
  auto foreign = model::decodeListing("[{\"Key\":\"x\"}]");
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().msg.find("header") != std::string::npos);
  auto bad = model::decodeListing("ovl-listing 1\n5 1 1\nkv7 1 x\n");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg.find("record 2") != std::string::npos);
}

TEST_CASE("shared listing: files count while the watcher holds the lock, and go with it") {
  TempDir t;
  auto dir = model::sharedListingsDir(t.path);
  REQUIRE(dir);
  struct stat st{};
  REQUIRE(::stat(dir->c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK_FALSE(model::listingsShared(*dir));
  {
    std::ofstream(*dir + "/stale.listing") << "left by a watcher that was killed";
    auto share = model::ListingShare::open(t.path);
    REQUIRE(share);
    CHECK(model::listingsShared(*dir));
    CHECK_FALSE(model::sharedListingStamp(*dir, "stale"));  // removed when the new watcher took over
    auto second = model::ListingShare::open(t.path);
    REQUIRE_FALSE(second);
    CHECK(second.error().msg.find("another watcher") != std::string::npos);

    REQUIRE(share->publish("blue", sample()));
    auto stamp = model::sharedListingStamp(*dir, "blue");
    REQUIRE(stamp);
    REQUIRE(::stat((*dir + "/blue.listing").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto read = model::readSharedListing(*dir, "blue");
    REQUIRE(read);
    REQUIRE(*read);
    CHECK((*read)->pairs == sample());
    CHECK(std::pair{(*read)->inode, (*read)->changedNs} == *stamp);
    REQUIRE(share->publish("blue", {}));  // a new file: the reader sees the stamp move
    auto again = model::sharedListingStamp(*dir, "blue");
    REQUIRE(again);
    CHECK(*again != *stamp);
    REQUIRE(share->publish("red", sample()));
    share->keepOnly({"red"});
    CHECK_FALSE(model::sharedListingStamp(*dir, "blue"));
    CHECK(model::sharedListingStamp(*dir, "red"));
    auto none = model::readSharedListing(*dir, "blue");
    REQUIRE(none);
    CHECK_FALSE(*none);
    std::optional<model::ListingShare> from(std::move(*share));
    model::ListingShare moved(std::move(*from));
    from.reset();  // a moved-from share removes nothing; the moved-to one keeps the lock and the files
    CHECK(model::listingsShared(*dir));
    CHECK(model::sharedListingStamp(*dir, "red"));
  }
  CHECK_FALSE(model::listingsShared(*dir));
  CHECK_FALSE(model::sharedListingStamp(*dir, "red"));
}
