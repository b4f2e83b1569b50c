#include "kv/consul_json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cni/json.hpp"
#include "kv/base64.hpp"

namespace ovl::kv {
namespace {

// Iterative parsing: deeply nested input must not exhaust the stack.
constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

Result<void> parseDoc(rapidjson::Document& doc, std::string_view body, std::string_view what) {
  // The listing itself is a few levels deep; values are decoded from base64 and bounded by their readers.
  if (json::nestingDepth(body) > json::kMaxDepth) return fail(Code::Decode, "malformed " + std::string(what) + " from consul: nested too deeply");
  doc.Parse<kFlags>(body.data(), body.size());
  if (doc.HasParseError())
    return fail(Code::Decode, "malformed " + std::string(what) +
                                  " from consul: " + rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                                  std::to_string(doc.GetErrorOffset()));
  return {};
}

std::unexpected<Error> bad(std::string_view what, std::string_view why) {
  return fail(Code::Decode, "malformed " + std::string(what) + " from consul: " + std::string(why));
}

Result<uint64_t> optionalU64(const rapidjson::Value& obj, const char* name, std::string_view what) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return uint64_t{0};
  if (!it->value.IsUint64()) return bad(what, std::string(name) + " is not an unsigned integer");
  return it->value.GetUint64();
}

Result<KvPair> parseKvObject(const rapidjson::Value& v, std::string_view what) {
  if (!v.IsObject()) return bad(what, "entry is not an object");
  KvPair p;
  auto key = v.FindMember("Key");
  if (key == v.MemberEnd() || !key->value.IsString()) return bad(what, "entry has no string Key");
  p.key.assign(key->value.GetString(), key->value.GetStringLength());
  if (auto val = v.FindMember("Value"); val != v.MemberEnd() && !val->value.IsNull()) {
    if (!val->value.IsString()) return bad(what, "Value of " + p.key + " is not a string");
    auto decoded = base64Decode(std::string_view(val->value.GetString(), val->value.GetStringLength()));
    if (!decoded) return bad(what, "Value of " + p.key + " is not valid base64");
    p.value = std::move(*decoded);
  }
  p.createIndex = TRY(optionalU64(v, "CreateIndex", what));
  p.modifyIndex = TRY(optionalU64(v, "ModifyIndex", what));
  p.flags = TRY(optionalU64(v, "Flags", what));
  return p;
}

}  // namespace

Result<std::vector<KvPair>> parseKvList(std::string_view body) {
  constexpr std::string_view what = "KV list";
  rapidjson::Document doc;
  TRY_VOID(parseDoc(doc, body, what));
  if (doc.IsNull()) return std::vector<KvPair>{};
  if (!doc.IsArray()) return bad(what, "not an array");
  std::vector<KvPair> out;
  out.reserve(doc.Size());
  for (const auto& e : doc.GetArray()) {
    auto p = TRY(parseKvObject(e, what));
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<std::string>> parseKeyList(std::string_view body) {
  constexpr std::string_view what = "key list";
  rapidjson::Document doc;
  TRY_VOID(parseDoc(doc, body, what));
  if (doc.IsNull()) return std::vector<std::string>{};
  if (!doc.IsArray()) return bad(what, "not an array");
  std::vector<std::string> out;
  out.reserve(doc.Size());
  for (const auto& e : doc.GetArray()) {
    if (!e.IsString()) return bad(what, "entry is not a string");
    out.emplace_back(e.GetString(), e.GetStringLength());
  }
  return out;
}

Result<bool> parseBoolBody(std::string_view body) {
  rapidjson::Document doc;
  TRY_VOID(parseDoc(doc, body, "answer"));
  if (!doc.IsBool()) return bad("answer", "expected true or false");
  return doc.GetBool();
}

Result<std::string> parseLeader(std::string_view body) {
  rapidjson::Document doc;
  TRY_VOID(parseDoc(doc, body, "leader"));
  if (!doc.IsString()) return bad("leader", "expected a string");
  return std::string(doc.GetString(), doc.GetStringLength());
}

Result<TxnResult> parseTxnResponse(std::string_view body, long httpStatus) {
  constexpr std::string_view what = "transaction result";
  if (httpStatus != 200 && httpStatus != 409)
    return fail(Code::Decode, "unexpected HTTP status " + std::to_string(httpStatus) + " for a transaction");
  rapidjson::Document doc;
  TRY_VOID(parseDoc(doc, body, what));
  if (!doc.IsObject()) return bad(what, "not an object");
  TxnResult r;
  r.committed = httpStatus == 200;
  if (auto res = doc.FindMember("Results"); res != doc.MemberEnd() && !res->value.IsNull()) {
    if (!res->value.IsArray()) return bad(what, "Results is not an array");
    for (const auto& e : res->value.GetArray()) {
      if (!e.IsObject()) return bad(what, "Results entry is not an object");
      auto kv = e.FindMember("KV");
      if (kv == e.MemberEnd() || kv->value.IsNull()) continue;  // non-KV op results
      auto p = TRY(parseKvObject(kv->value, what));
      r.results.push_back(std::move(p));
    }
  }
  if (auto errs = doc.FindMember("Errors"); errs != doc.MemberEnd() && !errs->value.IsNull()) {
    if (!errs->value.IsArray()) return bad(what, "Errors is not an array");
    for (const auto& e : errs->value.GetArray()) {
      if (!e.IsObject()) return bad(what, "Errors entry is not an object");
      std::string msg;
      if (auto idx = e.FindMember("OpIndex"); idx != e.MemberEnd() && idx->value.IsUint64())
        msg = "op " + std::to_string(idx->value.GetUint64()) + ": ";
      auto w = e.FindMember("What");
      if (w == e.MemberEnd() || !w->value.IsString()) return bad(what, "Errors entry has no string What");
      msg.append(w->value.GetString(), w->value.GetStringLength());
      r.errors.push_back(std::move(msg));
    }
  }
  if (!r.committed && r.errors.empty()) r.errors.emplace_back("transaction rolled back without a reason");
  return r;
}

const char* txnVerbName(TxnOp::Verb verb) {
  switch (verb) {
    case TxnOp::Set:
      return "set";
    case TxnOp::Cas:
      return "cas";
    case TxnOp::Get:
      return "get";
    case TxnOp::GetTree:
      return "get-tree";
    case TxnOp::Delete:
      return "delete";
    case TxnOp::DeleteCas:
      return "delete-cas";
    case TxnOp::DeleteTree:
      return "delete-tree";
    case TxnOp::CheckIndex:
      return "check-index";
    case TxnOp::CheckNotExists:
      return "check-not-exists";
  }
  return "?";
}

std::string buildTxnBody(const std::vector<TxnOp>& ops) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& op : ops) {
    w.StartObject();
    w.Key("KV");
    w.StartObject();
    w.Key("Verb");
    w.String(txnVerbName(op.verb));
    w.Key("Key");
    w.String(op.key.data(), static_cast<rapidjson::SizeType>(op.key.size()));
    if (op.verb == TxnOp::Set || op.verb == TxnOp::Cas) {
      w.Key("Value");
      w.String(base64Encode(op.value));
    }
    if (op.verb == TxnOp::Cas || op.verb == TxnOp::DeleteCas || op.verb == TxnOp::CheckIndex) {
      w.Key("Index");
      w.Uint64(op.index);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace ovl::kv
