#include "overlay/health_figures.hpp"

namespace ovl::overlay {

void HealthFigures::set(std::vector<PeerFigures> peers) {
  std::lock_guard g(mu_);
  peers_ = std::move(peers);
}

std::vector<PeerFigures> HealthFigures::get() const {
  std::lock_guard g(mu_);
  return peers_;
}

void exposeHealth(metrics::Exposition& e, const std::vector<PeerFigures>& peers) {
  std::vector<metrics::GaugeSample> up, rtt, probes, lost, largest;
  for (const auto& p : peers) {
    const metrics::Labels l{{"peer", p.peer}};
    if (p.known) up.push_back({l, p.up ? 1.0 : 0.0});
    if (p.rttSeconds > 0) rtt.push_back({l, p.rttSeconds});
    probes.push_back({l, double(p.probes)});
    lost.push_back({l, double(p.lost)});
    if (p.largest) largest.push_back({l, double(p.largest)});
  }
  e.family("overlay_cni_health_peer_up", "gauge",
           "1 while the health mesh's pair from this host to the peer host is up, 0 while it is down.", up);
  e.family("overlay_cni_health_rtt_seconds", "gauge",
           "Round-trip time of the last answered health probe to the peer host, through the VXLAN path.", rtt);
  e.family("overlay_cni_health_probes_total", "counter", "Health probes (ICMP echoes) sent to the peer host.", probes);
  e.family("overlay_cni_health_probes_lost_total", "counter",
           "Health probes to the peer host not answered within their round (1 s).", lost);
  e.family("overlay_cni_health_path_largest_packet_bytes", "gauge",
           "Largest IP packet (DF) that crossed the VXLAN path to the peer host and back.", largest);
}

}  // namespace ovl::overlay
