"""Discord's HTTP interactions: members share and editors review from Discord.

Discord POSTs each interaction, signed with the application's Ed25519 key, to
/discord/interactions/ (newsletter/views/discord.py). `dispatch.interaction_answer` routes it:

- signature.py   the Ed25519 check and the 5-minute freshness rule
- replies.py     answer shapes (ephemeral, no mentions), modals, buttons
- accounts.py    the member behind a Discord user (allauth's Discord social account)
- submit.py      a submission from Discord through the website's form and service
- share.py       /share and its modal; suggest.py the message command (deferred, Celery)
- linking.py     the signed 30-minute link that completes what an unlinked member typed
- review.py      /review and its For / Against / Skip buttons, through the vote service
- commands.py    the command definitions and their registration (manage.py discord_commands)
- followup.py    editing the deferred answer through Discord's interaction webhook

Like the services, nothing here imports views, tasks or admin.
"""
