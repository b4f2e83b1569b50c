// Parsing Consul's answers and building transaction bodies; base64.
#include <doctest/doctest.h>

#include <string>

#include "kv/base64.hpp"
#include "kv/consul_json.hpp"

using namespace ovl;
using namespace ovl::kv;

TEST_CASE("base64 round-trips and rejects invalid input") {
  CHECK(base64Encode("") == "");
  CHECK(base64Encode("f") == "Zg==");
  CHECK(base64Encode("fo") == "Zm8=");
  CHECK(base64Encode("foo") == "Zm9v");
  CHECK(base64Encode("foob") == "Zm9vYg==");
  CHECK(*base64Decode("") == "");
  CHECK(*base64Decode("Zm9vYmFy") == "foobar");
  CHECK(*base64Decode("Zg==") == "f");
  CHECK(*base64Decode("Zm8=") == "fo");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  for (size_t n = 0; n <= all.size(); n += 7) CHECK(*base64Decode(base64Encode(all.substr(0, n))) == all.substr(0, n));
  for (const char* bad : {"Z", "Zg=", "Zg===", "====", "Z===", "Zg==Zg==", "Zm9v\n", "Zm 9", "Zh==", "Zm9=", "Zm-_",
                          "\xff\xff\xff\xff", "=Zm9"}) {
    CAPTURE(bad);
    CHECK_FALSE(base64Decode(bad));
  }
}

TEST_CASE("parseKvList decodes values and indexes") {
  auto r = parseKvList(R"([{"LockIndex":0,"Key":"overlay-cni/a","Flags":3,"Value":"aGVsbG8=","CreateIndex":10,
      "ModifyIndex":12},{"Key":"overlay-cni/empty","Value":null,"CreateIndex":13,"ModifyIndex":13,"Flags":0},
      {"Key":"overlay-cni/bin","Value":"AP8=","CreateIndex":18446744073709551615,"ModifyIndex":1}])");
  REQUIRE(r);
  REQUIRE(r->size() == 3);
  CHECK((*r)[0] == KvPair{"overlay-cni/a", "hello", 10, 12, 3});
  CHECK((*r)[1].value.empty());
  CHECK((*r)[2].value == std::string("\0\xff", 2));
  CHECK((*r)[2].createIndex == 18446744073709551615ull);
  CHECK(parseKvList("[]")->empty());
  CHECK(parseKvList("null")->empty());
}

TEST_CASE("parseKvList and friends return Decode on malformed bodies") {
  for (const char* bad :
       {"", "[", "{}", "[1]", "[{}]", R"([{"Key":1}])", R"([{"Key":"a","Value":5}])", R"([{"Key":"a","Value":"***"}])",
        R"([{"Key":"a","ModifyIndex":-1}])", R"([{"Key":"a","ModifyIndex":1.5}])", R"([{"Key":"a","CreateIndex":"1"}])",
        R"([{"Key":"a"}] x)", "\xff", R"(["\ud800"])"}) {
    CAPTURE(bad);
    auto r = parseKvList(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::Decode);
  }
  // Deep nesting must not overflow the stack.
  std::string deep(200000, '[');
  CHECK(parseKvList(deep).error().code == Code::Decode);
  deep += std::string(200000, ']');
  CHECK(parseKvList(deep).error().code == Code::Decode);

  CHECK(*parseKeyList(R"(["a","b/c"])") == std::vector<std::string>{"a", "b/c"});
  CHECK_FALSE(parseKeyList(R"(["a",1])"));
  CHECK(*parseBoolBody("true"));
  CHECK_FALSE(*parseBoolBody("false\n"));
  CHECK_FALSE(parseBoolBody("\"true\""));
  CHECK(*parseLeader(R"("10.0.0.1:8300")") == "10.0.0.1:8300");
  CHECK(parseLeader(R"("")")->empty());
  CHECK_FALSE(parseLeader("[]"));
}

TEST_CASE("parseTxnResponse handles committed and rolled back and malformed answers") {
  auto ok = parseTxnResponse(R"({"Results":[{"KV":{"Key":"a","Value":null,"CreateIndex":5,"ModifyIndex":5,
      "Flags":0}},{"KV":{"Key":"b","Value":"eA==","CreateIndex":3,"ModifyIndex":4}}],"Errors":null,
      "Index":0})",
                             200);
  REQUIRE(ok);
  CHECK(ok->committed);
  REQUIRE(ok->results.size() == 2);
  CHECK(ok->results[1].value == "x");
  CHECK(ok->errors.empty());

  auto conflict = parseTxnResponse(
      R"({"Results":null,"Errors":[{"OpIndex":1,"What":"failed to create key \"b\": key already exists"}]})", 409);
  REQUIRE(conflict);
  CHECK_FALSE(conflict->committed);
  REQUIRE(conflict->errors.size() == 1);
  CHECK(conflict->errors[0] == "op 1: failed to create key \"b\": key already exists");

  auto noReason = parseTxnResponse(R"({"Results":null,"Errors":null})", 409);
  REQUIRE(noReason);
  CHECK_FALSE(noReason->errors.empty());

  for (auto [body, status] :
       std::initializer_list<std::pair<const char*, long>>{{"", 200},
                                                           {"[]", 200},
                                                           {R"({"Results":{}})", 200},
                                                           {R"({"Results":[1]})", 200},
                                                           {R"({"Results":[{"KV":{"Key":"a","Value":"!"}}]})", 200},
                                                           {R"({"Errors":[{"OpIndex":0}]})", 409},
                                                           {R"({"Errors":"x"})", 409},
                                                           {R"({"Results":[]})", 500}}) {
    CAPTURE(body);
    auto r = parseTxnResponse(body, status);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::Decode);
  }
}

TEST_CASE("buildTxnBody encodes verbs and base64 values and indexes") {
  std::vector<TxnOp> ops{{TxnOp::CheckNotExists, "p/a", "", 0},
                         {TxnOp::Set, "p/a", "v\"1", 0},
                         {TxnOp::Cas, "p/b", "x", 7},
                         {TxnOp::DeleteTree, "p/c/", "", 0}};
  CHECK(buildTxnBody(ops) ==
        R"([{"KV":{"Verb":"check-not-exists","Key":"p/a"}},{"KV":{"Verb":"set","Key":"p/a","Value":"diIx"}},)"
        R"({"KV":{"Verb":"cas","Key":"p/b","Value":"eA==","Index":7}},{"KV":{"Verb":"delete-tree","Key":"p/c/"}}])");
  CHECK(std::string(txnVerbName(TxnOp::DeleteCas)) == "delete-cas");
  CHECK(std::string(txnVerbName(TxnOp::CheckIndex)) == "check-index");
  CHECK(buildTxnBody({{TxnOp::GetTree, "p/n/", "", 0}}) == R"([{"KV":{"Verb":"get-tree","Key":"p/n/"}}])");
}
