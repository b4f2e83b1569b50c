// Scope guard: runs its action on scope exit unless dismissed at the commit point.
#pragma once

#include <functional>
#include <utility>

namespace ovl {

class Rollback {
 public:
  explicit Rollback(std::function<void()> undo) : undo_(std::move(undo)) {}
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  ~Rollback() {
    if (undo_) undo_();
  }
  void dismiss() { undo_ = nullptr; }

 private:
  std::function<void()> undo_;
};

}  // namespace ovl
