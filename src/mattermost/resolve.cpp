#include "mattermost/resolve.hpp"

namespace tocsin::mattermost {

ApiResult<Channel> ResolveChannel(Client& client, std::string_view ref) {
  // The same parser as Test Connection, so a reference it accepts resolves here and one it
  // rejects fails here for the same reason, without a request.
  const ChannelRef parsed = ParseChannelRef(ref);
  if (!parsed.id.empty()) return client.GetChannel(parsed.id);
  if (!parsed.team.empty()) return client.GetChannelByName(parsed.team, parsed.name);
  ApiError error;
  error.http_status = 400;  // a permanent problem of the request (Classify: bad_request)
  error.id = "tocsin.channel_reference.invalid";
  error.message = parsed.problem;
  return tl::unexpected(std::move(error));
}

}  // namespace tocsin::mattermost
