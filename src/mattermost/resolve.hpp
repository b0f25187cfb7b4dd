// mattermost/resolve.hpp — channel references as users write them, resolved to channels.
#pragma once

#include <string_view>

#include "mattermost/client.hpp"

namespace tocsin::mattermost {

// `ref` is a 26-character channel id or "team-name/channel-name". By name the server answers
// 404 for a missing team, a missing channel and a private channel the token cannot see, and 403
// for a public channel in a team the token's user is not in (API-FACTS §3.4).
ApiResult<Channel> ResolveChannel(Client& client, std::string_view ref);

}  // namespace tocsin::mattermost
