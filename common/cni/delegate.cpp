#include "cni/delegate.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "metrics/tally.hpp"
#include "util/log.hpp"
#include "util/unique_fd.hpp"

extern char** environ;

namespace ovl::cni {
namespace {

long timeoutMs() {
  if (const char* t = std::getenv("OVL_DELEGATE_TIMEOUT_MS")) {
    long v = std::strtol(t, nullptr, 10);
    if (v > 0) return v;
  }
  return 30000;
}

int64_t nowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::vector<std::string> buildEnv(std::string_view verb, const CmdArgs& a) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "CNI_", 4) != 0) env.emplace_back(*e);
  env.push_back("CNI_COMMAND=" + std::string(verb));
  env.push_back("CNI_CONTAINERID=" + a.containerId);
  env.push_back("CNI_NETNS=" + a.netns);
  env.push_back("CNI_IFNAME=" + a.ifName);
  env.push_back("CNI_ARGS=" + a.argsText);
  env.push_back("CNI_PATH=" + a.path);
  return env;
}

std::vector<Plugin>& linked() {
  static std::vector<Plugin> plugins;
  return plugins;
}

std::string realDir(const char* path) {
  char buf[PATH_MAX];
  if (!::realpath(path, buf)) return {};
  std::string_view p(buf);
  return std::string(p.substr(0, p.rfind('/')));
}

// The linked plugin to run instead of exec'ing `bin`, or null.
const Plugin* inProcess(std::string_view type, const std::string& bin) {
  if (linked().empty()) return nullptr;
  if (const char* e = std::getenv("OVL_DELEGATE_EXEC"); e && std::strcmp(e, "1") == 0) return nullptr;
  for (const auto& p : linked()) {
    if (p.name != type) continue;
    static const std::string self = realDir("/proc/self/exe");
    const std::string dir = realDir(bin.c_str());
    return !self.empty() && dir == self ? &p : nullptr;
  }
  return nullptr;
}

// Runs `p` as its exec'd binary would run: the same environment, stdin, result text and exit code; its
// metrics and log lines are its own.
DelegateOutput runLinked(const Plugin& p, const std::vector<std::string>& envList, std::string_view stdinData) {
  const EnvLookup env = [&envList](std::string_view k) -> std::optional<std::string> {
    for (const auto& e : envList)
      if (e.size() > k.size() && e.compare(0, k.size(), k) == 0 && e[k.size()] == '=') return e.substr(k.size() + 1);
    return std::nullopt;
  };
  metrics::NestedTally tally;
  log::NestedProgram logAs(p.name);
  Outcome o = runPlugin(p, env, stdinData);
  return DelegateOutput{o.exitCode, std::move(o.out)};
}

Error pluginError(std::string_view type, const DelegateOutput& o) {
  json::Doc doc;
  if (json::tryParse(doc, o.out) && doc.IsObject()) {
    const auto* code = json::member(doc, "code");
    const auto* msg = json::member(doc, "msg");
    if (code && code->IsInt() && msg && msg->IsString()) {
      Error e = makeError(static_cast<Code>(code->GetInt()), std::string(type) + ": " + msg->GetString());
      if (const auto* d = json::member(doc, "details"); d && d->IsString()) e.details = d->GetString();
      return e;
    }
  }
  return makeError(Code::Internal, std::string(type) + " failed with exit code " + std::to_string(o.exitCode) +
                                       (o.out.empty() ? "" : ": " + o.out.substr(0, 512)));
}

// Starts bin with stdin/stdout on the pipes, in a process group of its own (so that a timeout can stop
// whatever it started too), and with SIGKILL as its parent-death signal: a plugin killed by its runtime
// (a context deadline, an OOM kill) takes its delegate with it, so no IPAM call commits after the runtime
// has moved on to DEL. Only async-signal-safe calls between fork and exec.
Result<pid_t> spawnDelegate(const std::string& bin, char* const argv[], char* const envp[], int in, int out) {
  int errPipe[2];
  if (::pipe2(errPipe, O_CLOEXEC) != 0) return fail(sysError(errno, "pipe"));
  UniqueFd errR(errPipe[0]), errW(errPipe[1]);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return fail(sysError(errno, "starting " + bin));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::signal(SIGPIPE, SIG_DFL);  // we ignore it (skel.cpp); the delegate gets the default
    int err = 0;
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) err = errno;
    if (err == 0 && ::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    if (err == 0 && (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0)) err = errno;
    if (err == 0) {
      ::execve(bin.c_str(), argv, envp);
      err = errno;
    }
    (void)!::write(errW.get(), &err, sizeof err);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from this side: no window in which a timeout's kill(-pid) misses the child
  errW.reset();
  int childErr = 0;
  ssize_t n;
  while ((n = ::read(errR.get(), &childErr, sizeof childErr)) < 0 && errno == EINTR) {
  }
  if (n == ssize_t(sizeof childErr)) {  // exec failed: reap the child and say why
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return fail(sysError(childErr, "starting " + bin));
  }
  return pid;
}

Result<DelegateOutput> spawnAndWait(const std::string& bin, std::string_view type, std::vector<std::string>& env,
                                    std::string_view input) {
  int inPipe[2], outPipe[2];
  if (::pipe2(inPipe, O_CLOEXEC) != 0) return fail(sysError(errno, "pipe"));
  UniqueFd inR(inPipe[0]), inW(inPipe[1]);
  if (::pipe2(outPipe, O_CLOEXEC) != 0) return fail(sysError(errno, "pipe"));
  UniqueFd outR(outPipe[0]), outW(outPipe[1]);

  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string argv0(type);
  char* argv[] = {argv0.data(), nullptr};
  const pid_t pid = TRY(spawnDelegate(bin, argv, envp.data(), inR.get(), outW.get()));
  inR.reset();
  outW.reset();
  ::fcntl(inW.get(), F_SETFL, O_NONBLOCK);

  DelegateOutput o;
  size_t written = 0;
  if (input.empty()) inW.reset();
  const int64_t deadline = nowMs() + timeoutMs();
  bool timedOut = false;
  while (outR) {
    pollfd fds[2];
    int n = 0;
    fds[n++] = {outR.get(), POLLIN, 0};
    if (inW) fds[n++] = {inW.get(), POLLOUT, 0};
    int64_t left = deadline - nowMs();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    int pr = ::poll(fds, nfds_t(n), int(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) break;
    if (n == 2 && fds[1].revents) {
      ssize_t w = ::write(inW.get(), input.data() + written, input.size() - written);
      if (w > 0) written += size_t(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) inW.reset();
      if (written == input.size()) inW.reset();
    }
    if (fds[0].revents) {
      char buf[16384];
      ssize_t r = ::read(outR.get(), buf, sizeof buf);
      if (r > 0) o.out.append(buf, size_t(r));
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) outR.reset();
    }
  }
  if (timedOut) ::kill(-pid, SIGKILL);  // the group: the delegate and whatever it started (not yet reaped)
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut)
    return fail(Code::TryAgainLater, std::string(type) + " did not finish within " + std::to_string(timeoutMs()) + " ms");
  o.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return o;
}

}  // namespace

void linkInProcess(Plugin p) { linked().push_back(std::move(p)); }

Result<std::string> findPlugin(std::string_view type, std::string_view cniPath) {
  if (type.empty() || type.find('/') != std::string_view::npos || type == "." || type == "..")
    return fail(Code::InvalidConfig, "plugin type '" + std::string(type) + "' is not a valid plugin name");
  if (cniPath.empty()) return fail(Code::InvalidEnv, "CNI_PATH is not set; cannot find plugin '" + std::string(type) + "'");
  size_t pos = 0;
  while (pos <= cniPath.size()) {
    size_t end = cniPath.find(':', pos);
    if (end == std::string_view::npos) end = cniPath.size();
    std::string dir(cniPath.substr(pos, end - pos));
    pos = end + 1;
    if (dir.empty()) continue;
    std::string cand = dir + "/" + std::string(type);
    struct stat st{};
    if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(cand.c_str(), X_OK) == 0) return cand;
  }
  return fail(Code::InvalidConfig, "plugin '" + std::string(type) + "' not found in CNI_PATH '" + std::string(cniPath) + "'");
}

Result<std::string> execPlugin(std::string_view type, std::string_view verb, const CmdArgs& args,
                               std::string_view stdinData) {
  std::string bin = TRY(findPlugin(type, args.path));
  auto env = buildEnv(verb, args);
  metrics::PhaseTimer timer(metrics::Phase::Ipam);
  DelegateOutput o;
  if (const Plugin* p = inProcess(type, bin)) {
    log::debug("delegating " + std::string(verb) + " to " + std::string(type) + " in this process");
    o = runLinked(*p, env, stdinData);
  } else {
    log::debug("delegating " + std::string(verb) + " to " + bin);
    o = TRY(spawnAndWait(bin, type, env, stdinData));
  }
  if (o.exitCode != 0) return fail(pluginError(type, o));
  return o.out;
}

Result<NetResult> delegateAdd(std::string_view type, const CmdArgs& args, std::string_view stdinData) {
  std::string out = TRY(execPlugin(type, "ADD", args, stdinData));
  return parseResultText(out, std::string(type) + " result");
}

Result<void> delegateCheck(std::string_view type, const CmdArgs& args, std::string_view stdinData) {
  TRY(execPlugin(type, "CHECK", args, stdinData));
  return {};
}

Result<void> delegateDel(std::string_view type, const CmdArgs& args, std::string_view stdinData) {
  TRY(execPlugin(type, "DEL", args, stdinData));
  return {};
}

Result<void> delegateGc(std::string_view type, const CmdArgs& args, std::string_view stdinData) {
  TRY(execPlugin(type, "GC", args, stdinData));
  return {};
}

Result<void> delegateStatus(std::string_view type, const CmdArgs& args, std::string_view stdinData) {
  TRY(execPlugin(type, "STATUS", args, stdinData));
  return {};
}

}  // namespace ovl::cni
