# The demo bot's texts (en-US, the default locale).
hello = Hello { $name }! Nice to meet you.
did-not-understand = Sorry, I did not get that. Say "hi" to start.
welcome = Welcome, { $name }! Say "hi" whenever you like.
greeting-text = Hi {"{{"}user_first_name{"}}"}, this is the pagebot demo.
menu-help = Help
menu-site = Website
