// gRPC core configuration for the statically linked vehicle-agent (gRPC 1.51 only).
//
// Linked into the vehicle-agent executable only (never into cit_agent, whose tests use the
// shared gRPC). libgrpc.a's grpc_plugin_registry.cc.o defines BuildCoreConfiguration(), which
// registers every LB policy, resolver and filter gRPC ships: xDS, grpclb, RLS, ring_hash,
// priority, weighted_target, outlier_detection, fault injection, the fake resolver. Their
// registration (and static initialisation) touches their code at start-up, so in a static link
// they cost about 1.7 MB of text and ~1.5 MB of RSS. Defining BuildCoreConfiguration() here keeps
// that archive member (and everything only it references) out of the link.
//
// The agent needs one plain channel: dns:/ipv4:/ipv6: targets, pick_first (the default LB
// policy; round_robin kept for service configs that name it), HTTP/2 over TCP, TLS handshakers,
// the client filters and the HTTP CONNECT proxy support. The calls below are the ones gRPC 1.51's
// grpc_plugin_registry.cc makes, in the same order, minus the plug-ins listed above; gRPC's own
// grpc_plugin_registry_noextra.cc does the same for the xDS part. The CMake code links this file
// only when gRPC is 1.51, because a newer gRPC may add registrations that are not optional.
//
// gRPC's internal headers are not installed, so the registration functions are declared here
// with their 1.51 signatures; CoreConfiguration::Builder is only passed through by pointer.

namespace grpc_core {
class CoreConfiguration {
 public:
  class Builder;
};
using Builder = CoreConfiguration::Builder;

void BuildCoreConfiguration(Builder* builder);

void RegisterHttpConnectHandshaker(Builder* builder);
void RegisterTCPConnectHandshaker(Builder* builder);
void RegisterPickFirstLbPolicy(Builder* builder);
void RegisterRoundRobinLbPolicy(Builder* builder);
void BuildClientChannelConfiguration(Builder* builder);
void SecurityRegisterHandshakerFactories(Builder* builder);
void RegisterClientAuthorityFilter(Builder* builder);
void RegisterChannelIdleFilters(Builder* builder);
void RegisterHttpFilters(Builder* builder);
void RegisterDeadlineFilter(Builder* builder);
void RegisterMessageSizeFilter(Builder* builder);
void RegisterServiceConfigChannelArgFilter(Builder* builder);
void RegisterResourceQuota(Builder* builder);
void RegisterNativeDnsResolver(Builder* builder);
void RegisterAresDnsResolver(Builder* builder);
void RegisterSockaddrResolver(Builder* builder);
void RegisterHttpProxyMapper(Builder* builder);
void RegisterSecurityFilters(Builder* builder);
void RegisterBuiltins(Builder* builder);
}  // namespace grpc_core

namespace grpc_event_engine::experimental {
void RegisterEventEngineChannelArgPreconditioning(grpc_core::Builder* builder);
}  // namespace grpc_event_engine::experimental

namespace grpc_core {

void BuildCoreConfiguration(Builder* builder) {
  grpc_event_engine::experimental::RegisterEventEngineChannelArgPreconditioning(builder);
  // gRPC: the TCP connect handshaker must be registered after HTTP CONNECT so that it ends up
  // first in the handshaker list.
  RegisterHttpConnectHandshaker(builder);
  RegisterTCPConnectHandshaker(builder);
  RegisterPickFirstLbPolicy(builder);
  RegisterRoundRobinLbPolicy(builder);
  BuildClientChannelConfiguration(builder);
  SecurityRegisterHandshakerFactories(builder);
  RegisterClientAuthorityFilter(builder);
  RegisterChannelIdleFilters(builder);
  RegisterHttpFilters(builder);
  RegisterDeadlineFilter(builder);
  RegisterMessageSizeFilter(builder);
  RegisterServiceConfigChannelArgFilter(builder);
  RegisterResourceQuota(builder);
  RegisterAresDnsResolver(builder);
  RegisterNativeDnsResolver(builder);
  RegisterSockaddrResolver(builder);
  RegisterHttpProxyMapper(builder);
  // gRPC registers the security filters late so that they get a consistent position.
  RegisterSecurityFilters(builder);
  RegisterBuiltins(builder);
}

}  // namespace grpc_core
