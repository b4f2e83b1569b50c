// Building and parsing the JSON bodies of the Consul HTTP API. Pure functions, no I/O: fuzz targets
// call the parsers directly. Any malformed input yields Code::Decode, never a crash.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/consul_types.hpp"
#include "util/error.hpp"

namespace ovl::kv {

// GET /v1/kv/<key>[?recurse]: [{"Key","Value"(base64|null),"CreateIndex","ModifyIndex","Flags",...}].
Result<std::vector<KvPair>> parseKvList(std::string_view body);
// GET /v1/kv/<prefix>?keys: ["k1","k2"].
Result<std::vector<std::string>> parseKeyList(std::string_view body);
// PUT/DELETE /v1/kv/...: "true" or "false".
Result<bool> parseBoolBody(std::string_view body);
// GET /v1/status/leader: "\"10.0.0.1:8300\"" or "\"\"".
Result<std::string> parseLeader(std::string_view body);
// PUT /v1/txn answer: 200 {"Results":[{"KV":{...}}],"Errors":null};
// 409 {"Results":null,"Errors":[{"OpIndex":N,"What":"..."}]} -> committed=false. Other statuses: Decode.
Result<TxnResult> parseTxnResponse(std::string_view body, long httpStatus);

// Request body for PUT /v1/txn (values base64-encoded).
std::string buildTxnBody(const std::vector<TxnOp>& ops);
const char* txnVerbName(TxnOp::Verb verb);

}  // namespace ovl::kv
