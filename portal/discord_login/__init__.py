"""Log in with Discord: allauth's Discord provider, with its addresses on DISCORD_API_BASE.

allauth's own provider has discord.com written into it; this subclass reads the base URL from
the settings, so the login and the account linking of Discord interactions can be tested
against a local stand-in. The social account's uid is the Discord user id, as before.
"""
