// The overlay-ipam verbs: ADD, DEL, CHECK, GC, STATUS.
#pragma once

#include "cni/skel.hpp"

namespace ovl::ipam {

cni::Plugin makePlugin();

}  // namespace ovl::ipam
