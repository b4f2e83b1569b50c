#include <doctest/doctest.h>

#include "ipc/resolver_link.hpp"
#include "model/dns_names.hpp"
#include "resolver/server.hpp"
#include "resolver/table.hpp"
#include "resolver/wire.hpp"

// Last: ldns/common.h redefines bool/true/false for C, which breaks <optional> when it comes first.
#include <ldns/ldns.h>

using namespace ovl;
using namespace ovl::model;
using namespace ovl::resolver;

namespace {

std::vector<kv::KvPair> listing() {
  auto kv = [](std::string k, std::string v) { return kv::KvPair{"P/attachments/" + k, std::move(v), 1, 1, 0}; };
  return {
      kv("over/h1/c1/eth0", R"({"ips":["10.0.0.2/24"],"names":["web1","www"]})"),
      kv("over/h2/c2/eth0", R"({"ips":["10.0.0.3/24","fd00::3/64"],"names":["db1"]})"),
      kv("over2/h2/c3/eth0", R"({"ips":["10.0.1.2/24"],"names":["other"]})"),
      kv("over2/h1/c4/eth1", R"({"ips":["10.0.1.3/24"],"names":["www"]})"),
      kv("over/h1/c5/eth0", R"({"ips":["10.0.0.9/24"]})"),               // no names
      kv("over/h1/c6/eth0", R"(not json)"),                             // malformed: skipped
      kv("over/h1/c7/eth0", R"({"ips":["10.0.0.7/24"],"names":["bad/name", 5]})"),
      kv("over/h1/short", R"({"ips":["10.0.0.8/24"],"names":["short"]})"),  // wrong depth
  };
}

std::vector<uint8_t> query(uint16_t id, const char* name, ldns_rr_type type) {
  ldns_pkt* p = nullptr;
  REQUIRE(ldns_pkt_query_new_frm_str(&p, name, type, LDNS_RR_CLASS_IN, LDNS_RD) == LDNS_STATUS_OK);
  ldns_pkt_set_id(p, id);
  uint8_t* buf = nullptr;
  size_t size = 0;
  REQUIRE(ldns_pkt2wire(&buf, p, &size) == LDNS_STATUS_OK);
  std::vector<uint8_t> out(buf, buf + size);
  free(buf);
  ldns_pkt_free(p);
  return out;
}

}  // namespace

TEST_CASE("DNS names: validation and canonical form") {
  CHECK(isValidDnsName("web1"));
  CHECK(isValidDnsName("my_svc.example."));
  CHECK(isValidDnsName(std::string(63, 'a')));
  CHECK_FALSE(isValidDnsName(std::string(64, 'a')));
  CHECK_FALSE(isValidDnsName(""));
  CHECK_FALSE(isValidDnsName("-web"));
  CHECK_FALSE(isValidDnsName("web-"));
  CHECK_FALSE(isValidDnsName("a..b"));
  CHECK_FALSE(isValidDnsName("bad/name"));
  CHECK_FALSE(isValidDnsName("sp ace"));
  CHECK(canonicalName("Web.Example.") == "web.example");
}

TEST_CASE("name table: scoped to the asker's networks") {
  auto t = NameTable::fromListing(model::Keys("P/"), listing());
  auto a = t.lookup({"over"}, "web1");
  CHECK(a.verdict == NameTable::Verdict::Found);
  REQUIRE(a.addrs.size() == 1);
  CHECK(a.addrs[0].str() == "10.0.0.2");
  CHECK(t.lookup({"over"}, "db1").addrs.size() == 2);       // v4 and v6
  CHECK(t.lookup({"over"}, "web1.over").verdict == NameTable::Verdict::Found);
  // A name of another network only: NXDOMAIN, not forwarded.
  CHECK(t.lookup({"over2"}, "web1").verdict == NameTable::Verdict::NxDomain);
  CHECK(t.lookup({"over"}, "other").verdict == NameTable::Verdict::NxDomain);
  // "www" exists on both: each network sees its own; a container on both sees both.
  CHECK(t.lookup({"over"}, "www").addrs.size() == 1);
  CHECK(t.lookup({"over", "over2"}, "www").addrs.size() == 2);
  // Unknown names: single labels are ours to deny, dotted names go upstream.
  CHECK(t.lookup({"over"}, "nobody").verdict == NameTable::Verdict::NxDomain);
  CHECK(t.lookup({"over"}, "example.org").verdict == NameTable::Verdict::Forward);
  // Skipped records.
  CHECK(t.lookup({"over"}, "short").verdict == NameTable::Verdict::NxDomain);
  CHECK(t.lookup({"over"}, "bad/name").verdict == NameTable::Verdict::NxDomain);  // skipped, single label
  // The malformed records are listed for the caller to report, each naming its key.
  REQUIRE(t.malformed().size() == 2);
  CHECK(t.malformed()[0].find("P/attachments/over/h1/c6/eth0") != std::string::npos);
  CHECK(t.malformed()[1].find("P/attachments/over/h1/c7/eth0") != std::string::npos);
  CHECK(t.hasAttachment("h1", AttachKey{"over", "c1", "eth0"}));
  CHECK(t.hasAttachment("h1", AttachKey{"over", "c6", "eth0"}));
  CHECK_FALSE(t.hasAttachment("h2", AttachKey{"over", "c1", "eth0"}));
}

TEST_CASE("name table: per-network parts combined") {
  const model::Keys keys("P/");
  std::vector<kv::KvPair> over, over2;
  for (auto& p : listing()) (p.key.rfind("P/attachments/over/", 0) == 0 ? over : over2).push_back(p);
  auto a = std::make_shared<const NameTable>(NameTable::fromListing(keys, over));
  auto b = std::make_shared<const NameTable>(NameTable::fromListing(keys, over2));
  auto t = NameTable::combine({a, b});
  CHECK(t.lookup({"over"}, "web1").verdict == NameTable::Verdict::Found);
  CHECK(t.lookup({"over2"}, "web1").verdict == NameTable::Verdict::NxDomain);  // a name of the other part
  CHECK(t.lookup({"over", "over2"}, "www").addrs.size() == 2);
  CHECK(t.hasAttachment("h2", AttachKey{"over2", "c3", "eth0"}));
  CHECK_FALSE(t.hasAttachment("h2", AttachKey{"over2", "c3", "eth1"}));
  CHECK(t.malformed().size() == 2);
  CHECK(t.nameCount() == 4);  // web1, www (on both), db1, other
}

namespace {

kv::KvPair attachment(const std::string& rest, uint64_t index, const std::string& value) {
  return kv::KvPair{"P/attachments/over/" + rest, value, 1, index, 0};
}

std::vector<std::string> addrsOf(const NameTable& t, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& a : t.lookup({"over"}, name).addrs) out.push_back(a.str());
  return out;
}

}  // namespace

TEST_CASE("network names: only new and changed records are parsed, gone ones go") {
  const model::Keys keys("P/");
  std::vector<kv::KvPair> l = {
      attachment("h1/c1/eth0", 5, R"({"ips":["10.0.0.2/24"],"names":["web1","www"]})"),
      attachment("h2/c2/eth0", 6, R"({"ips":["10.0.0.3/24","10.0.0.2/24"],"names":["www","db1"]})"),
      attachment("h2/c3/eth0", 7, R"({"ips":["10.0.0.4/24"],"names":["cache"]})"),
  };
  NetworkNames names;
  auto first = names.update(keys, model::viewsOf(l));
  CHECK(names.parsed() == 3);
  CHECK(addrsOf(*first, "www") == std::vector<std::string>{"10.0.0.2", "10.0.0.3"});  // both records, once each
  CHECK(addrsOf(*first, "db1.over") == std::vector<std::string>{"10.0.0.3", "10.0.0.2"});

  // The same keys at the same indexes: nothing parsed, the very same table (the value is not read again).
  l[0].value = R"({"ips":["10.0.0.9/24"],"names":["renamed"]})";
  auto same = names.update(keys, model::viewsOf(l));
  CHECK(same == first);
  CHECK(names.parsed() == 3);

  // A moved index: that record alone is parsed again; its new name answers, its old one is gone.
  l[0].modifyIndex = 8;
  auto moved = names.update(keys, model::viewsOf(l));
  CHECK(moved != first);
  CHECK(names.parsed() == 4);
  CHECK(moved->lookup({"over"}, "web1").verdict == NameTable::Verdict::NxDomain);
  CHECK(addrsOf(*moved, "renamed") == std::vector<std::string>{"10.0.0.9"});
  CHECK(addrsOf(*moved, "www") == std::vector<std::string>{"10.0.0.3", "10.0.0.2"});

  // A record gone: its names and attachment go, the others are not parsed again.
  l.erase(l.begin() + 2);
  auto gone = names.update(keys, model::viewsOf(l));
  CHECK(gone != moved);
  CHECK(names.parsed() == 4);
  CHECK(gone->lookup({"over"}, "cache").verdict == NameTable::Verdict::NxDomain);
  CHECK_FALSE(gone->hasAttachment("h2", AttachKey{"over", "c3", "eth0"}));
  CHECK(gone->hasAttachment("h2", AttachKey{"over", "c2", "eth0"}));

  // Coming back at the same index is a new record to the index: parsed, answered.
  l.push_back(attachment("h2/c3/eth0", 7, R"({"ips":["10.0.0.4/24"],"names":["cache"]})"));
  auto back = names.update(keys, model::viewsOf(l));
  CHECK(names.parsed() == 5);
  CHECK(addrsOf(*back, "cache") == std::vector<std::string>{"10.0.0.4"});
  l.pop_back();
  CHECK(names.update(keys, model::viewsOf(l))->lookup({"over"}, "cache").verdict == NameTable::Verdict::NxDomain);
}

TEST_CASE("network names: malformed records are reported by every table they are in") {
  const model::Keys keys("P/");
  std::vector<kv::KvPair> l = {
      attachment("h1/c6/eth0", 1, "not json"),
      attachment("h1/c1/eth0", 2, R"({"ips":["10.0.0.2/24"],"names":["web1"]})"),
  };
  NetworkNames names;
  CHECK(names.update(keys, model::viewsOf(l))->malformed().size() == 1);
  l.push_back(attachment("h1/c7/eth0", 3, R"({"ips":["10.0.0.7/24"],"names":["web7"]})"));
  auto t = names.update(keys, model::viewsOf(l));
  REQUIRE(t->malformed().size() == 1);  // still there, still once, though the record was not parsed again
  CHECK(t->malformed()[0].find("P/attachments/over/h1/c6/eth0") != std::string::npos);
  CHECK(t->hasAttachment("h1", AttachKey{"over", "c6", "eth0"}));  // its namespace stays served
  l[0].modifyIndex = 4, l[0].value = R"({"ips":["10.0.0.6/24"],"names":["web6"]})";
  t = names.update(keys, model::viewsOf(l));
  CHECK(t->malformed().empty());
  CHECK(addrsOf(*t, "web6") == std::vector<std::string>{"10.0.0.6"});
}

TEST_CASE("network names: a table handed out keeps answering while newer ones are built") {
  const model::Keys keys("P/");
  std::vector<kv::KvPair> l = {attachment("h1/c1/eth0", 1, R"({"ips":["10.0.0.2/24"],"names":["web1"]})")};
  NetworkNames names;
  auto old = std::make_shared<const NameTable>(NameTable::combine({names.update(keys, model::viewsOf(l))}));
  l[0].modifyIndex = 2, l[0].value = R"({"ips":["10.0.0.3/24"],"names":["web2"]})";
  for (int i = 0; i < 20; ++i)  // enough to free and reuse whatever the old table pointed into
    l.push_back(attachment("h9/c" + std::to_string(i) + "/eth0", 3, R"({"ips":["10.0.9.1/24"],"names":["x)" +
                                                                      std::to_string(i) + R"("]})"));
  auto now = names.update(keys, model::viewsOf(l));
  l.clear();
  (void)names.update(keys, model::viewsOf(l));  // every record gone from the index
  CHECK(addrsOf(*old, "web1") == std::vector<std::string>{"10.0.0.2"});
  CHECK(old->lookup({"over"}, "web2").verdict == NameTable::Verdict::NxDomain);
  CHECK(old->hasAttachment("h1", AttachKey{"over", "c1", "eth0"}));
  CHECK(addrsOf(*now, "web2") == std::vector<std::string>{"10.0.0.3"});
  CHECK(addrsOf(*now, "x19") == std::vector<std::string>{"10.0.9.1"});
  CHECK(names.table()->lookup({"over"}, "web2").verdict == NameTable::Verdict::NxDomain);
}

TEST_CASE("wire: a query round-trips into an answer with its id, question and addresses") {
  auto raw = query(0x4242, "DB1.", LDNS_RR_TYPE_A);
  auto q = parseQuery(raw);
  REQUIRE(q.has_value());
  CHECK(q->id == 0x4242);
  CHECK(q->name == "db1");
  CHECK(q->qtype == kTypeA);
  CHECK(q->rd);
  auto addrs = std::vector<IpAddr>{*IpAddr::parse("10.0.0.3"), *IpAddr::parse("fd00::3")};
  auto wire = buildAnswer(*q, addrs, 0);
  ldns_pkt* p = nullptr;
  REQUIRE(ldns_wire2pkt(&p, wire.data(), wire.size()) == LDNS_STATUS_OK);
  CHECK(ldns_pkt_id(p) == 0x4242);
  CHECK(ldns_pkt_qr(p));
  CHECK(ldns_pkt_aa(p));
  CHECK(ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR);
  REQUIRE(ldns_pkt_ancount(p) == 1);  // only the A record for an A query
  char* owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(p), 0)));
  CHECK(std::string(owner) == "DB1.");  // case kept for 0x20-checking clients
  free(owner);
  ldns_pkt_free(p);

  auto nx = buildError(*q, kRcodeNxDomain);
  REQUIRE(ldns_wire2pkt(&p, nx.data(), nx.size()) == LDNS_STATUS_OK);
  CHECK(ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN);
  CHECK(ldns_pkt_qdcount(p) == 1);
  CHECK(ldns_pkt_ancount(p) == 0);
  ldns_pkt_free(p);
}

TEST_CASE("wire: malformed datagrams and responses are not queries") {
  auto raw = query(7, "web.", LDNS_RR_TYPE_AAAA);
  CHECK_FALSE(parseQuery({}).has_value());
  CHECK_FALSE(parseQuery(std::span(raw).first(11)).has_value());
  CHECK_FALSE(parseQuery(std::span(raw).first(raw.size() - 1)).has_value());
  auto resp = raw;
  resp[2] |= 0x80;  // QR: a response
  CHECK_FALSE(parseQuery(resp).has_value());
  auto two = raw;
  two[5] = 2;  // QDCOUNT 2 with one question
  CHECK_FALSE(parseQuery(two).has_value());
  auto loop = raw;
  loop.resize(12);
  for (uint8_t b : {0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01}) loop.push_back(b);  // pointer to itself
  CHECK_FALSE(parseQuery(loop).has_value());
}

TEST_CASE("wire: the question is read as ldns reads it, and the reply repeats it byte for byte") {
  // Names with the characters ldns escapes: a dot inside a label, a space, a bell, a backslash.
  for (const char* name : {"web.", "WwW.Example.", "a\\.b.c.", "sp\\032ace.", "\\007bell.", "back\\\\slash.",
                           "semi\\;colon.", "\\(paren\\).", "."}) {
    const std::string shown = name;
    CAPTURE(shown);
    auto raw = query(9, name, LDNS_RR_TYPE_A);
    ldns_pkt* ref = nullptr;
    REQUIRE(ldns_wire2pkt(&ref, raw.data(), raw.size()) == LDNS_STATUS_OK);
    char* text = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(ref), 0)));
    const std::string expected = text;
    free(text);
    ldns_pkt_free(ref);
    auto q = parseQuery(raw);
    REQUIRE(q.has_value());
    CHECK(q->owner == expected);
    auto reply = buildError(*q, kRcodeNxDomain);
    REQUIRE(reply.size() == raw.size());  // header and question only, as the query
    CHECK(std::equal(raw.begin() + 12, raw.end(), reply.begin() + 12));
  }
  // "a\.b" is one label: it must not be looked up as the name a.b.
  CHECK(parseQuery(query(9, "a\\.b.", LDNS_RR_TYPE_A))->name != "a.b");
}

TEST_CASE("wire: records after the question are checked, not trusted") {
  const auto base = query(5, "web.", LDNS_RR_TYPE_A);
  auto withAdditional = [&](std::initializer_list<uint8_t> rr, uint8_t arcount = 1) {
    auto p = base;
    p[11] = arcount;
    p.insert(p.end(), rr);
    return p;
  };
  // EDNS OPT, as dig and glibc send it: accepted.
  CHECK(parseQuery(withAdditional({0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0})).has_value());
  // A record whose owner points back at the question's name: accepted.
  CHECK(parseQuery(withAdditional({0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 0, 0, 1})).has_value());
  // Pointing forward or at itself, or into the header: refused.
  CHECK_FALSE(parseQuery(withAdditional({0xc0, 60, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0})).has_value());
  CHECK_FALSE(parseQuery(withAdditional({0xc0, uint8_t(base.size()), 0, 1, 0, 1, 0, 0, 0, 0, 0, 0})).has_value());
  CHECK_FALSE(parseQuery(withAdditional({0xc0, 2, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0})).has_value());
  // Rdata longer than the packet, a count larger than the records there, an extended label type: refused.
  CHECK_FALSE(parseQuery(withAdditional({0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1, 2})).has_value());
  CHECK_FALSE(parseQuery(withAdditional({0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0}, 2)).has_value());
  CHECK_FALSE(parseQuery(withAdditional({0x41, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0})).has_value());
  // Two TSIG records: ldns 1.8.3 leaks one of them; here the packet is read and nothing is kept.
  const std::vector<uint8_t> tsig = {0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 0};
  auto twoTsig = base;
  twoTsig[11] = 2;
  for (int i = 0; i < 2; ++i) twoTsig.insert(twoTsig.end(), tsig.begin(), tsig.end());
  CHECK(parseQuery(twoTsig).has_value());
}

TEST_CASE("wire: names and labels over the limits are refused") {
  auto question = [](const std::vector<std::string>& labels) {
    std::vector<uint8_t> p = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    for (const auto& l : labels) {
      p.push_back(uint8_t(l.size()));
      p.insert(p.end(), l.begin(), l.end());
    }
    for (uint8_t b : {0, 0, 1, 0, 1}) p.push_back(b);
    return p;
  };
  CHECK(parseQuery(question({std::string(63, 'a')})).has_value());
  CHECK_FALSE(parseQuery(question({std::string(64, 'a')})).has_value());
  // Labels of 63, 63, 63 and 61 bytes, each with its length byte, and the root: 255 bytes, the most a name may
  // have; a 62-byte last label is one over.
  CHECK(parseQuery(question({std::string(63, 'a'), std::string(63, 'b'), std::string(63, 'c'), std::string(61, 'd')}))
            .has_value());
  CHECK_FALSE(parseQuery(question({std::string(63, 'a'), std::string(63, 'b'), std::string(63, 'c'),
                                   std::string(62, 'd')}))
                  .has_value());
  auto q = parseQuery(question({"Web", "Ovgr"}));
  REQUIRE(q.has_value());
  CHECK(q->name == "web.ovgr");
  CHECK(q->owner == "Web.Ovgr.");
  CHECK(q->rd);
}

TEST_CASE("resolver link: requests encode and decode, bad ones are refused") {
  ipc::ResolverRequest r{ipc::ResolverRequest::Attach, "over", "c1", "eth0", "/run/netns/x"};
  auto back = ipc::decodeRequest(ipc::encodeRequest(r));
  REQUIRE(back.has_value());
  CHECK(*back == r);
  ipc::ResolverRequest d{ipc::ResolverRequest::Detach, "over", "c1", "eth0", ""};
  CHECK(*ipc::decodeRequest(ipc::encodeRequest(d)) == d);
  CHECK_FALSE(ipc::decodeRequest("{\"op\":\"explode\",\"network\":\"a\",\"containerID\":\"b\",\"ifname\":\"c\"}").has_value());
  CHECK_FALSE(ipc::decodeRequest("{\"op\":\"attach\",\"network\":\"\",\"containerID\":\"b\",\"ifname\":\"c\"}").has_value());
  CHECK_FALSE(ipc::decodeRequest("[]").has_value());
  CHECK_FALSE(ipc::decodeRequest("{").has_value());
}

TEST_CASE("upstreams: addresses with and without ports, resolv.conf") {
  CHECK(parseUpstream("203.0.113.1")->port == 53);
  CHECK(parseUpstream("203.0.113.1:5353")->port == 5353);
  CHECK(parseUpstream("2001:db8::1")->addr.str() == "2001:db8::1");
  CHECK(parseUpstream("[2001:db8::1]:54")->port == 54);
  CHECK_FALSE(parseUpstream("203.0.113.1:0").has_value());
  CHECK_FALSE(parseUpstream("203.0.113.1:99999").has_value());
  CHECK_FALSE(parseUpstream("dns.example").has_value());
  CHECK_FALSE(parseUpstream("[2001:db8::1").has_value());
  auto ups = upstreamsFromResolvConf("# c\nsearch example\nnameserver 203.0.113.1\nnameserver fe80::1%eth0\n"
                                     "nameserver  2001:db8::53 \nnameserver bogus\n");
  REQUIRE(ups.size() == 2);
  CHECK(ups[0].addr.str() == "203.0.113.1");
  CHECK(ups[1].addr.str() == "2001:db8::53");
}
