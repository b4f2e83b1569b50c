// The resolver's view of the cluster: every attachment's names and addresses, per network, built from a
// listing of P/attachments/ (see cluster.hpp). Pure data, no I/O: one part per network's listing, so that a
// change rebuilds only its network's part.
//
// A listing arrives for every change anywhere in its network (hundreds of records, one of them new), so
// the work per listing is kept to what changed: NetworkNames keeps each record parsed across listings and
// parses again only the records whose ModifyIndex moved; a part then shares those parsed records and adds
// only two sorted vectors of pointers and views to find them by.
#pragma once

#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kv/consul_types.hpp"
#include "model/keys.hpp"
#include "model/listing_link.hpp"
#include "util/ip.hpp"

namespace ovl::resolver {

// One attachment as the resolver knows it locally: (network, containerID, ifname).
struct AttachKey {
  std::string network, containerId, ifName;
  auto operator<=>(const AttachKey&) const = default;
};

// One record of a listing as the table uses it. Immutable once parsed: tables share it.
struct ParsedRecord {
  bool attachment = false;  // the key is an attachment's
  std::string net, host, containerId, ifName;
  std::vector<IpAddr> addrs;
  std::vector<std::string> names;  // canonical
  std::string malformed;           // why its names are not answered, "" when they are
  // Hashes of the names (same order) and of (net, host, containerId, ifName), taken once per parse: the
  // tables sort by them first, which spares most string comparisons.
  std::vector<size_t> nameHashes;
  size_t attachmentHash = 0;
};

class NameTable {
 public:
  // Malformed records are skipped, and listed in malformed(). Parses every record: a listing followed
  // over time goes through NetworkNames instead.
  static NameTable fromListing(const model::Keys& keys, const std::vector<kv::KvPair>& pairs);
  // The table of parsed records, in listing order (the order malformed() keeps).
  static NameTable fromRecords(std::vector<std::shared_ptr<const ParsedRecord>> records);
  // One error per skipped record, naming its key: the caller reports them.
  const std::vector<std::string>& malformed() const { return malformed_; }
  // The tables of disjoint listings (e.g. one per network) as one, sharing their contents.
  static NameTable combine(const std::vector<std::shared_ptr<const NameTable>>& tables);

  enum class Verdict {
    Found,     // the name is on one of the asker's networks: `addrs` (possibly none of the asked family)
    NxDomain,  // an overlay name of other networks only, or a single label nobody has: answer NXDOMAIN
    Forward,   // not an overlay name: ask the upstream resolvers
  };
  struct Answer {
    Verdict verdict = Verdict::Forward;
    std::vector<IpAddr> addrs;
  };
  // `qname` canonical (lower case, no trailing dot). Matches "<name>" on any of `networks`, and
  // "<name>.<network>" for one of `networks`.
  Answer lookup(const std::set<std::string>& networks, std::string_view qname) const;

  bool hasAttachment(const std::string& host, const AttachKey& k) const;
  size_t nameCount() const;

 private:
  // Immutable once built, and shared by every table combined from it: the server thread reads it while
  // the names thread builds the next one.
  struct Part {
    std::vector<std::shared_ptr<const ParsedRecord>> records;  // attachments, in listing order
    struct Name {
      size_t hash;
      std::string_view name, net;  // into records[record]
      uint32_t record;             // the listing order breaks ties: addresses come in that order
    };
    std::vector<Name> names;  // of records with addresses, by (hash, name, net, record)
    std::vector<const ParsedRecord*> attachments;  // by (attachmentHash, net, host, containerId, ifName)
  };
  static std::shared_ptr<const Part> buildPart(std::vector<std::shared_ptr<const ParsedRecord>> records);
  void addAddrs(std::string_view net, std::string_view name, Answer& a, bool& found) const;
  bool anyNetworkHas(std::string_view name) const;

  std::vector<std::shared_ptr<const Part>> parts_;
  std::vector<std::string> malformed_;
};

// One network's names kept by the names thread from listing to listing: its records parsed, by key.
class NetworkNames {
 public:
  // The table of `listing` (the network's latest). Parses only the records that are new or whose
  // ModifyIndex moved, forgets the ones gone, and returns the same table as last time when neither
  // happened (idempotent: the same listing again gives the same table). The views need only outlive the
  // call: the index copies a key once, when the record is new.
  std::shared_ptr<const NameTable> update(const model::Keys& keys, std::span<const model::KvView> listing);
  // The table of the latest listing; null before the first.
  const std::shared_ptr<const NameTable>& table() const { return table_; }
  size_t parsed() const { return parsed_; }  // records parsed so far, for tests

 private:
  struct Entry {
    uint64_t modifyIndex = 0;
    uint64_t seen = 0;  // the generation of the last listing that had it
    std::shared_ptr<const ParsedRecord> record;
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Finds or parses the listing's record; true when it was parsed.
  bool refreshEntry(const model::Keys& keys, const model::KvView& v, Entry*& out);
  size_t sweepUnseen();  // drops the records the latest listing did not have; returns how many

  std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> byKey_;
  uint64_t generation_ = 0;
  size_t seenNow_ = 0;  // distinct keys of the listing being taken
  std::shared_ptr<const NameTable> table_;
  size_t parsed_ = 0;
};

}  // namespace ovl::resolver
