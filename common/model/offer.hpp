// A value that one part of a plugin process lends another for the length of a call: the overlay plugin offers
// the IPAM it runs in its process (cni/delegate.hpp) what to read or write together with it
// (model/read_ahead.hpp, model/lease_companion.hpp). Process-global on purpose: a plugin process serves one
// call, and an exec'd IPAM never sees the offer, so it reads and writes for itself.
#pragma once

namespace ovl::model {

template <class T>
T*& offerSlot() {
  static T* offered = nullptr;
  return offered;
}

// What the caller offers now, or null.
template <class T>
T* offered() {
  return offerSlot<T>();
}

// Offers `value` while it lives.
template <class T>
class Offer {
 public:
  explicit Offer(T& value) { offerSlot<T>() = &value; }
  ~Offer() { offerSlot<T>() = nullptr; }
  Offer(const Offer&) = delete;
  Offer& operator=(const Offer&) = delete;
};

}  // namespace ovl::model
