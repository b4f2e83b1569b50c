// Bridge forwarding database entries (family AF_BRIDGE), e.g. the VXLAN flood list:
//   bridge fdb append 00:00:00:00:00:00 dev VX dst VTEP
#pragma once

#include <optional>
#include <vector>

#include "nl/socket.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::nl {

struct FdbEntry {
  int ifindex = 0;
  MacAddr mac;
  std::optional<IpAddr> dst;  // NDA_DST: remote VTEP for vxlan entries
  int state = 0;              // NUD_*
  int flags = 0;              // NTF_*
  int master = 0;             // NDA_MASTER, 0 when absent
};

// Appends mac -> dst on the device (NLM_F_CREATE|NLM_F_APPEND, NUD_PERMANENT|NUD_NOARP, NTF_SELF);
// an identical entry is success.
Result<void> appendFdb(Socket& s, int ifindex, const MacAddr& mac, const IpAddr& dst);
// Sets mac -> dst on the device, replacing any other dst (NLM_F_REPLACE, NUD_PERMANENT|NUD_NOARP, NTF_SELF):
// a VXLAN device's static unicast entry.
Result<void> replaceFdb(Socket& s, int ifindex, const MacAddr& mac, const IpAddr& dst);
// The bridge's own entry for mac on the port (NTF_MASTER, static: NUD_NOARP), as `bridge fdb replace MAC dev
// PORT master static`; deleteMasterFdb removes it (absent is success).
Result<void> replaceMasterFdb(Socket& s, int portIndex, const MacAddr& mac);
Result<void> deleteMasterFdb(Socket& s, int portIndex, const MacAddr& mac);
// Deletes the entry (only the one with that dst when given); absent is success.
Result<void> deleteFdb(Socket& s, int ifindex, const MacAddr& mac, std::optional<IpAddr> dst);
// The FDB entries on that device only.
Result<std::vector<FdbEntry>> dumpFdb(Socket& s, int ifindex);

}  // namespace ovl::nl
