// The emulator world most API tests start from: team "security", public channel "alerts", and a
// bot that is a member of both, with a token.
#pragma once

#include <string>

#include "emulator.hpp"

namespace tocsin::testing {

struct SecurityTeam {
  std::string team, alerts, bot, token;
};

inline SecurityTeam SeedSecurityTeam(mmemu::Emulator& emu) {
  SecurityTeam w;
  w.team = emu.AddTeam("security");
  w.alerts = emu.AddChannel(w.team, "alerts", 'O');
  w.bot = emu.AddBot("tocsin-bot");
  emu.AddTeamMember(w.team, w.bot);
  emu.AddChannelMember(w.alerts, w.bot);
  w.token = emu.CreateToken(w.bot);
  return w;
}

}  // namespace tocsin::testing
