// The attachment listings overlay watch hands to overlay-resolver (common/model/listing_link): listings and
// frames round-trip any bytes and refuse what is malformed; over the real unix socket a resolver gets every
// listing on connect, then the latest of each, withdrawals, and sees the watcher go the moment it goes.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "model/listing_link.hpp"
#include "util/unique_fd.hpp"

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

std::vector<kv::KvPair> pairsOf(const model::ReceivedListing& l) {
  std::vector<kv::KvPair> out;
  for (const auto& v : l.records()) out.push_back({std::string(v.key), std::string(v.value), 0, v.modifyIndex, 0});
  return out;
}

// Polls `ok` for up to 5 s (the link's thread works in the background).
bool eventually(const std::function<bool()>& ok) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!ok()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace

TEST_CASE("listing link: any key and value bytes round-trip, with their ModifyIndex") {
  const auto pairs = sample();
  auto back = model::decodeListing(model::encodeListing(pairs));
  REQUIRE(back);
  CHECK(*back == pairs);
  auto empty = model::decodeListing(model::encodeListing({}));
  REQUIRE(empty);
  CHECK(empty->empty());
}

TEST_CASE("listing link: the resolver's copy-free decoding gives the same records, and keeps their bytes") {
  const auto pairs = sample();
  std::string body = model::encodeListing(pairs);
  auto views = model::decodeListingViews(body);
  REQUIRE(views);
  REQUIRE(views->size() == pairs.size());
  CHECK(views->at(1).value == pairs[1].value);
  CHECK(views->at(1).value.data() >= body.data());  // a view into the listing, not a copy
  CHECK(views->at(1).value.data() < body.data() + body.size());
  auto received = model::ReceivedListing::decode(std::move(body));
  REQUIRE(received);
  body.assign(1000, 'x');  // the listing owns its bytes
  CHECK(pairsOf(**received) == pairs);
  CHECK(model::viewsOf(pairs).at(2).modifyIndex == 43);
  CHECK_FALSE(model::ReceivedListing::decode("5 1 1\nkv7 1 x\n"));
}

TEST_CASE("listing link: a cut or malformed listing is refused, naming the record") {
  const std::string whole = model::encodeListing(sample());
  for (size_t cut : {whole.size() - 1, whole.size() - 20, size_t(5)}) {
    auto r = model::decodeListing(std::string_view(whole).substr(0, cut));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::Decode);
    CHECK_FALSE(model::decodeListingViews(std::string_view(whole).substr(0, cut)));
  }
  CHECK_FALSE(model::decodeListing("1 99999999999 2\nkv"));
  CHECK_FALSE(model::decodeListing("1 0 2\nkv"));  // a record without a key
  CHECK_FALSE(model::decodeListing("-1 1 1\nkv"));
  CHECK_FALSE(model::decodeListing("1 1 1 \nkv"));
  auto bad = model::decodeListing("5 1 1\nkv7 1 x\n");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg.find("record 2") != std::string::npos);
}

TEST_CASE("listing link: frames come out whole, one at a time, whatever the reads cut") {
  const model::Frame a{false, "blue", model::encodeListing(sample())}, w{true, "red", ""};
  const std::string stream = model::encodeFrame(a) + model::encodeFrame(w);
  std::string buf;
  std::vector<model::Frame> got;
  for (char ch : stream) {  // a byte at a time: every cut a read can make
    buf += ch;
    for (;;) {
      auto f = model::decodeFrame(buf);
      REQUIRE(f);
      if (!*f) break;
      got.push_back(std::move(**f));
    }
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0] == a);
  CHECK(got[1] == w);
  CHECK(buf.empty());
  for (std::string bad : std::vector<std::string>{"X 4 0\nblue", "L 0 0\n", "L 4 -1\nblue", "W 4 3\nbluexyz", "L 5000 0\n",
                          "L 4 999999999999\nblue", std::string(80, 'L')}) {
    auto f = model::decodeFrame(bad);
    CHECK_MESSAGE(!f, bad);
  }
}

TEST_CASE("listing link: a resolver gets every listing, then the latest, withdrawals, and the watcher's end") {
  TempDir t;
  auto path = model::listingSocketPath(t.path);
  REQUIRE(path);
  std::atomic<int> changes{0};
  model::ListingClient client(*path, [&] { ++changes; });
  CHECK_FALSE(client.connected());  // no watcher yet: it keeps trying
  auto server = model::ListingServer::start(t.path);
  REQUIRE(server);
  struct stat st{};
  REQUIRE(::stat(path->c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  (*server)->publish("blue", sample());
  auto second = model::ListingServer::start(t.path);  // one watcher per host
  REQUIRE_FALSE(second);
  CHECK(second.error().msg.find("another overlay watch") != std::string::npos);

  REQUIRE(eventually([&] { return client.latest("blue").has_value(); }));
  auto blue = client.latest("blue");
  CHECK(pairsOf(*blue->listing) == sample());
  CHECK_FALSE(client.latest("red"));

  auto two = sample();
  two.pop_back();
  (*server)->publish("blue", two);
  (*server)->publish("red", {});
  REQUIRE(eventually([&] { return client.latest("red").has_value(); }));
  REQUIRE(eventually([&] { return client.latest("blue")->listing->records().size() == 2; }));
  CHECK(client.latest("blue")->version > blue->version);

  (*server)->keepOnly({"red"});
  REQUIRE(eventually([&] { return !client.latest("blue").has_value(); }));
  CHECK(client.latest("red"));

  // A resolver that connects later gets what there is now.
  std::atomic<int> lateChanges{0};
  model::ListingClient late(*path, [&] { ++lateChanges; });
  REQUIRE(eventually([&] { return late.latest("red").has_value(); }));
  CHECK_FALSE(late.latest("blue"));
  CHECK((*server)->clients() == 2);

  const int before = changes;
  server->reset();  // the watcher goes: both see it at once, and share nothing
  CHECK(::access(path->c_str(), F_OK) != 0);
  REQUIRE(eventually([&] { return !client.connected() && !late.connected(); }));
  CHECK_FALSE(client.latest("red"));
  CHECK(changes > before);
}

TEST_CASE("listing link: a watcher out of descriptors waits for them instead of spinning on its socket") {
  TempDir t;
  auto path = model::listingSocketPath(t.path);
  REQUIRE(path);
  auto server = model::ListingServer::start(t.path);
  REQUIRE(server);
  (*server)->publish("blue", sample());
  UniqueFd peer(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(peer);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path->size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path->data(), path->size());
  // No descriptor left for the process: the lowest free one becomes the limit.
  const int lowest = ::dup(0);
  REQUIRE(lowest >= 0);
  ::close(lowest);
  rlimit was{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &was) == 0);
  rlimit tight = was;
  tight.rlim_cur = rlim_t(lowest);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  const auto cpu = [] {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
  };
  // The connection waits in the backlog while accept fails with EMFILE.
  const bool connected = ::connect(peer.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  const double before = cpu();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const double spent = cpu() - before;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &was) == 0);
  REQUIRE(connected);
  CHECK(spent < 100.0);  // a loop on the readable listen socket burns the whole 400 ms
  // Descriptors back: the resolver is accepted and gets the listing.
  pollfd p{peer.get(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  char buf[64];
  CHECK(::recv(peer.get(), buf, sizeof buf, 0) > 0);
  CHECK(buf[0] == 'L');
}
