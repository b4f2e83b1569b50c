#include "metrics/scrape.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>

#include "util/unique_fd.hpp"

namespace ovl::metrics {
namespace {

constexpr size_t kMaxBody = size_t(4) << 20;

bool nameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

// Reads `name="value"` pairs up to the closing brace; false when malformed.
bool parseLabels(std::string_view& s, std::map<std::string, std::string>& out) {
  while (!s.empty() && s.front() != '}') {
    auto eq = s.find("=\"");
    if (eq == std::string_view::npos) return false;
    std::string key(s.substr(0, eq)), value;
    s.remove_prefix(eq + 2);
    while (!s.empty() && s.front() != '"') {
      if (s.front() == '\\' && s.size() > 1) {
        s.remove_prefix(1);
        value += s.front() == 'n' ? '\n' : s.front();
      } else {
        value += s.front();
      }
      s.remove_prefix(1);
    }
    if (s.empty()) return false;
    s.remove_prefix(1);  // closing quote
    out[key] = value;
    if (!s.empty() && s.front() == ',') s.remove_prefix(1);
  }
  if (s.empty()) return false;
  s.remove_prefix(1);
  return true;
}

bool parseValue(std::string_view s, double& v) {
  if (s == "+Inf") return v = 1.0 / 0.0, true;
  if (s == "NaN") return v = 0.0 / 0.0, true;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

Result<std::string> fetchMetrics(const ListenAddr& at, int timeoutMs) {
  const std::string where = "metrics endpoint " + at.str();
  sockaddr_storage ss{};
  const socklen_t len = at.sockaddr(ss);
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail(sysError(errno, where));
  timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail(sysError(errno, "connecting to " + where));
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: " + at.str() + "\r\n\r\n";
  if (::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size()))
    return fail(sysError(errno, "sending to " + where));
  std::string resp;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(sysError(errno, "reading from " + where));
    if (n == 0) break;
    resp.append(buf, size_t(n));
    if (resp.size() > kMaxBody) return fail(Code::Decode, where + " answered more than 4 MiB");
  }
  const auto head = resp.find("\r\n\r\n");
  if (!resp.starts_with("HTTP/1.") || head == std::string::npos)
    return fail(Code::Decode, where + " did not answer HTTP");
  if (resp.compare(resp.find(' ') + 1, 3, "200") != 0)
    return fail(Code::Decode, where + " answered " + resp.substr(0, resp.find('\r')));
  return resp.substr(head + 4);
}

Result<std::vector<TextSample>> parseText(std::string_view text) {
  std::vector<TextSample> out;
  size_t lineNo = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++lineNo;
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&] { return fail(Code::Decode, "metrics line " + std::to_string(lineNo) + " is malformed"); };
    TextSample s;
    size_t i = 0;
    while (i < line.size() && nameChar(line[i], i == 0)) ++i;
    if (i == 0) return bad();
    s.name = std::string(line.substr(0, i));
    line.remove_prefix(i);
    if (!line.empty() && line.front() == '{') {
      line.remove_prefix(1);
      if (!parseLabels(line, s.labels)) return bad();
    }
    if (line.empty() || line.front() != ' ') return bad();
    line.remove_prefix(1);
    line = line.substr(0, line.find(' '));  // an optional timestamp follows
    if (!parseValue(line, s.value)) return bad();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ovl::metrics
