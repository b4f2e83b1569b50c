// Value types of the Consul KV API.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ovl::kv {

struct KvPair {
  std::string key, value;  // value decoded from base64
  uint64_t createIndex = 0, modifyIndex = 0, flags = 0;
  bool operator==(const KvPair&) const = default;
};

// One operation of a transaction (/v1/txn); at most 64 per transaction.
// Note: in a Consul transaction a Get of an absent key fails the whole transaction.
struct TxnOp {
  enum Verb { Set, Cas, Get, GetTree, Delete, DeleteCas, DeleteTree, CheckIndex, CheckNotExists };
  Verb verb;
  std::string key;
  std::string value;   // Set, Cas
  uint64_t index = 0;  // Cas, DeleteCas, CheckIndex
};

struct TxnResult {
  bool committed = false;
  std::vector<KvPair> results;      // one per op that returns a key, every key of a GetTree (values: Get, GetTree)
  std::vector<std::string> errors;  // when not committed: "op N: what"
};

}  // namespace ovl::kv
