#include "resolver/wire.hpp"

#include <ldns/ldns.h>

#include <cstdlib>
#include <memory>

namespace ovl::resolver {
namespace {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;

struct RdfFree {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;

// The reply skeleton: same id, opcode and question, QR and RA set, RD copied.
PktPtr replyFor(const Query& q, uint8_t rcode, RdfPtr& owner) {
  PktPtr p(ldns_pkt_new());
  if (!p) return p;
  ldns_pkt_set_id(p.get(), q.id);
  ldns_pkt_set_qr(p.get(), true);
  ldns_pkt_set_opcode(p.get(), LDNS_PACKET_QUERY);
  ldns_pkt_set_rd(p.get(), q.rd);
  ldns_pkt_set_ra(p.get(), true);
  ldns_pkt_set_rcode(p.get(), rcode);
  ldns_rdf* name = nullptr;
  if (ldns_str2rdf_dname(&name, q.owner.c_str()) != LDNS_STATUS_OK) return nullptr;
  owner.reset(name);
  ldns_rr* question = ldns_rr_new();
  if (!question) return nullptr;
  ldns_rr_set_owner(question, ldns_rdf_clone(name));
  ldns_rr_set_type(question, ldns_rr_type(q.qtype));
  ldns_rr_set_class(question, ldns_rr_class(q.qclass));
  ldns_rr_set_question(question, true);
  ldns_pkt_push_rr(p.get(), LDNS_SECTION_QUESTION, question);
  return p;
}

std::vector<uint8_t> toWire(const ldns_pkt* p) {
  uint8_t* buf = nullptr;
  size_t size = 0;
  if (!p || ldns_pkt2wire(&buf, p, &size) != LDNS_STATUS_OK) {
    std::free(buf);
    return {};
  }
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

}  // namespace

std::vector<uint8_t> buildAnswer(const Query& q, const std::vector<IpAddr>& addrs, uint32_t ttl) {
  RdfPtr owner;
  PktPtr p = replyFor(q, kRcodeNoError, owner);
  if (!p) return {};
  ldns_pkt_set_aa(p.get(), true);
  for (const auto& a : addrs) {
    const bool v4 = a.family() == AF_INET;
    if (!(q.qtype == kTypeANY || (v4 && q.qtype == kTypeA) || (!v4 && q.qtype == kTypeAAAA))) continue;
    ldns_rr* rr = ldns_rr_new();
    if (!rr) return {};
    ldns_rr_set_owner(rr, ldns_rdf_clone(owner.get()));
    ldns_rr_set_type(rr, v4 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, ttl);
    ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(v4 ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA, v4 ? 4 : 16, a.bytes()));
    ldns_pkt_push_rr(p.get(), LDNS_SECTION_ANSWER, rr);
  }
  return toWire(p.get());
}

std::vector<uint8_t> buildError(const Query& q, uint8_t rcode) {
  RdfPtr owner;
  PktPtr p = replyFor(q, rcode, owner);
  if (!p) return {};
  if (rcode == kRcodeNxDomain) ldns_pkt_set_aa(p.get(), true);
  return toWire(p.get());
}

}  // namespace ovl::resolver
