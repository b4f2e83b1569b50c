#include "model/lease_companion.hpp"

namespace ovl::model {
namespace {

LeaseCompanion*& slot() {
  static LeaseCompanion* c = nullptr;
  return c;
}

}  // namespace

LeaseCompanion* leaseCompanion() { return slot(); }

ScopedLeaseCompanion::ScopedLeaseCompanion(LeaseCompanion& c) { slot() = &c; }
ScopedLeaseCompanion::~ScopedLeaseCompanion() { slot() = nullptr; }

}  // namespace ovl::model
