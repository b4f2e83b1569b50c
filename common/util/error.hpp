// One error type for the whole project, carrying CNI spec error codes.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace ovl {

// CNI spec error codes (SPEC.md "Error" section) plus our plugin-specific ones (100+).
enum class Code : int {
  IncompatibleVersion = 1,
  UnsupportedField = 2,
  UnknownContainer = 3,
  InvalidEnv = 4,
  Io = 5,
  Decode = 6,
  InvalidConfig = 7,
  TryAgainLater = 11,
  NotReady = 50,
  LimitedConnectivity = 51,
  Internal = 100,    // unexpected kernel or library failure
  AddressInUse = 101,  // a requested static address belongs to another container
  PoolExhausted = 102, // no free address left in the ranges
};

struct Error {
  Code code = Code::Internal;
  std::string msg;
  std::string details;
  int sysErrno = 0;  // errno (positive) when the error came from the kernel/libc, 0 otherwise

  // True when the failing object simply does not exist: deletes treat this as success.
  bool notFound() const;
  // Prefixes the message with context, e.g. err.context("creating vxlan ovx-42").
  Error&& context(std::string_view what) &&;
};

Error makeError(Code code, std::string msg, std::string details = {});
Error sysError(int err, std::string msg);  // err: positive errno

template <class T = void>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Code code, std::string msg, std::string details = {}) {
  return std::unexpected(makeError(code, std::move(msg), std::move(details)));
}
inline std::unexpected<Error> fail(Error e) { return std::unexpected(std::move(e)); }

// Rewrites the error of a failed result (g++ 12's std::expected has no transform_error yet).
template <class T, class F>
Result<T> mapError(Result<T> r, F&& f) {
  if (!r) return std::unexpected(f(std::move(r.error())));
  return r;
}

}  // namespace ovl

// TRY(x): evaluates a Result expression; on error returns it from the enclosing function,
// otherwise yields the value.  TRY_VOID for Result<void>.
#define OVL_CAT2(a, b) a##b
#define OVL_CAT(a, b) OVL_CAT2(a, b)
#define TRY(expr)                                                        \
  ({                                                                     \
    auto OVL_CAT(_r, __LINE__) = (expr);                                 \
    if (!OVL_CAT(_r, __LINE__)) return std::unexpected(std::move(OVL_CAT(_r, __LINE__).error())); \
    std::move(*OVL_CAT(_r, __LINE__));                                   \
  })
#define TRY_VOID(expr)                                                   \
  do {                                                                   \
    auto OVL_CAT(_r, __LINE__) = (expr);                                 \
    if (!OVL_CAT(_r, __LINE__)) return std::unexpected(std::move(OVL_CAT(_r, __LINE__).error())); \
  } while (0)
