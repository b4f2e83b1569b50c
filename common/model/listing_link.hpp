// The attachment listings `overlay watch` already receives, handed to overlay-resolver on the same host, so
// that a change on a network costs Consul one blocking-query answer per host instead of two (the watcher's
// and the resolver's), and the resolver parses a compact frame instead of a Consul listing.
//
// A unix stream socket, <stateDir>/ns-<netns inode>/listings.sock (0600 in a 0700 directory, root peers
// only): the watcher listens, the resolver connects. On connect the watcher sends every listing it has,
// then each network's latest listing as it arrives; a slow reader gets only the latest one per network,
// never a queue. A network the watcher stops following is withdrawn. The connection is the liveness: when
// the watcher exits or is killed the resolver sees it close at once and follows the store itself again.
// No files are written per change (a file per listing cost the watchers a quarter of their CPU in inode
// allocation on ext4 at 25 hosts).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kv/consul_types.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ovl::model {

// <stateDir>/ns-<inode of this thread's netns>/listings.sock.
Result<std::string> listingSocketPath(const std::string& stateDir);

// A listing in a frame: "<modifyIndex> <key bytes> <value bytes>\n" then the key and the value, per pair
// (lengths first: values are JSON of any shape, nothing is escaped).
std::string encodeListing(const std::vector<kv::KvPair>& pairs);
Result<std::vector<kv::KvPair>> decodeListing(std::string_view text);

// One record of a listing without its bytes: views into a listing kept alive elsewhere.
struct KvView {
  std::string_view key, value;
  uint64_t modifyIndex = 0;
};
// As decodeListing, as strict, but copying nothing: the views point into `text`.
Result<std::vector<KvView>> decodeListingViews(std::string_view text);
// Views of pairs that outlive them.
std::vector<KvView> viewsOf(const std::vector<kv::KvPair>& pairs);

// A listing as the resolver receives it: the frame's bytes and its records as views into them, so that a
// record the resolver has seen before is never copied. Immutable, shared between threads.
class ReceivedListing {
 public:
  static Result<std::shared_ptr<const ReceivedListing>> decode(std::string body);
  const std::vector<KvView>& records() const { return records_; }
  ReceivedListing(const ReceivedListing&) = delete;  // the views point into body_: it never moves
  ReceivedListing& operator=(const ReceivedListing&) = delete;

 private:
  explicit ReceivedListing(std::string body) : body_(std::move(body)) {}
  std::string body_;
  std::vector<KvView> records_;
};

// One frame on the link: "L <net bytes> <body bytes>\n<net><listing>" (a listing) or "W <net bytes> 0\n<net>"
// (withdrawn). decodeFrame returns nullopt while `buf` holds less than a whole frame, and consumes it.
struct Frame {
  bool withdrawn = false;
  std::string net;
  std::string body;
  bool operator==(const Frame&) const = default;
};
std::string encodeFrame(const Frame& f);
Result<std::optional<Frame>> decodeFrame(std::string& buf);

// The watcher's side: a thread accepting resolvers and writing to them; publish/keepOnly never block on a
// reader.
class ListingServer {
 public:
  // Binds the socket; refuses when another watcher answers on it (a stale socket file is replaced).
  static Result<std::unique_ptr<ListingServer>> start(const std::string& stateDir);
  ~ListingServer();  // closes every connection and removes the socket
  ListingServer(const ListingServer&) = delete;
  ListingServer& operator=(const ListingServer&) = delete;

  // The network's listing for every resolver connected now or later. Idempotent.
  void publish(const std::string& net, const std::vector<kv::KvPair>& pairs);
  // Withdraws the networks not in `nets`. Idempotent.
  void keepOnly(const std::set<std::string>& nets);
  size_t clients();  // for tests

 private:
  struct Client {
    UniqueFd fd;
    std::set<std::string> dirty;  // networks whose latest frame it has not been sent
    std::shared_ptr<const std::string> sending;  // the frame being written, from `sent` on
    size_t sent = 0;
    bool gone = false;  // found closed outside the thread, which drops it
  };
  ListingServer() = default;
  void run();
  void markDirty(const std::string& net);  // under mu_
  bool pending(const Client& c) const;     // under mu_: something to write
  bool flush(Client& c);                   // under mu_; false when the connection is gone

  std::string path_;
  UniqueFd listen_, wake_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const std::string>> frames_;  // each network's latest listing frame
  std::vector<Client> clients_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The resolver's side: a thread that connects (and connects again every 500 ms while no watcher answers)
// and keeps the latest listing of each network the watcher shares.
class ListingClient {
 public:
  // `onChange` runs on the client's thread after each frame and when the connection opens or closes.
  ListingClient(std::string socketPath, std::function<void()> onChange);
  ~ListingClient();
  ListingClient(const ListingClient&) = delete;
  ListingClient& operator=(const ListingClient&) = delete;

  struct Shared {
    uint64_t version = 0;  // moves with every frame received for the network
    std::shared_ptr<const ReceivedListing> listing;
  };
  // The network's listing while a watcher is connected and shares it.
  std::optional<Shared> latest(const std::string& net);
  bool connected();

 private:
  void run();
  std::string path_;
  std::function<void()> onChange_;
  UniqueFd wake_;
  std::mutex mu_;
  bool connected_ = false;
  uint64_t version_ = 0;
  std::map<std::string, Shared> nets_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ovl::model
