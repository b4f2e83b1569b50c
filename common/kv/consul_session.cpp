// Consul sessions over the HTTP API (/v1/session/*) and lock acquisition on a key (?acquire=).
#include "cni/json.hpp"
#include "kv/consul.hpp"
#include "kv/consul_json.hpp"

namespace ovl::kv {
namespace {

std::string sessionBody(std::string_view name, int ttlSeconds) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "Name"); json::str(w, name);
  json::key(w, "TTL"); json::str(w, std::to_string(ttlSeconds) + "s");
  json::key(w, "Behavior"); json::str(w, "delete");
  json::key(w, "LockDelay"); json::str(w, "0s");
  json::key(w, "Checks"); w.StartArray(); w.EndArray();  // no node health checks: the TTL alone
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

bool validSessionId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '-') return false;
  return true;
}

std::unexpected<Error> unexpected(const HttpResponse& r, std::string_view what) {
  return fail(Code::Internal,
              "consul at " + r.address + " answered HTTP " + std::to_string(r.status) + " to " + std::string(what));
}

Result<std::string> checkedId(std::string_view id) {
  if (!validSessionId(id)) return fail(Code::Internal, "not a consul session id: '" + std::string(id) + "'");
  return std::string(id);
}

}  // namespace

Result<std::string> ConsulClient::createSession(std::string_view name, int ttlSeconds) {
  const std::string body = sessionBody(name, ttlSeconds);
  auto r = TRY(http_.send(HttpRequest{Method::Put, "/v1/session/create", body, false, 0}));
  if (r.status != 200)
    return unexpected(r, "a session create");
  json::Doc d;
  TRY_VOID(json::parseInto(d, r.body, "consul's session create answer"));
  const auto* id = json::member(d, "ID");
  if (!id || !id->IsString()) return fail(Code::Decode, "consul's session create answer has no ID");
  return checkedId(id->GetString());
}

Result<bool> ConsulClient::renewSession(std::string_view id) {
  const std::string sid = TRY(checkedId(id));
  auto r = TRY(http_.send(HttpRequest{Method::Put, "/v1/session/renew/" + sid, {}, true, 0}));
  if (r.status == 404) return false;
  if (r.status != 200)
    return unexpected(r, "a session renew");
  return true;
}

Result<void> ConsulClient::destroySession(std::string_view id) {
  const std::string sid = TRY(checkedId(id));
  auto r = TRY(http_.send(HttpRequest{Method::Put, "/v1/session/destroy/" + sid, {}, true, 0}));
  if (r.status != 200 && r.status != 404)
    return unexpected(r, "a session destroy");
  return {};
}

Result<bool> ConsulClient::acquire(std::string_view key, std::string_view value, std::string_view session) {
  const std::string sid = TRY(checkedId(session));
  // Acquiring a lock the session already holds succeeds (and rewrites the value): safe to resend.
  auto r = TRY(kvRequest(Method::Put, key, false, "acquire=" + sid, value, true));
  if (r.status != 200)
    return unexpected(r, "an acquire of " + std::string(key));
  return parseBoolBody(r.body);
}

}  // namespace ovl::kv
