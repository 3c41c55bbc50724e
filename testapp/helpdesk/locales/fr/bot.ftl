# The help desk Page's texts (fr, its default locale).
helpdesk-hello = Bonjour { $name } ! Écrivez « feedback : » suivi de votre remarque.
feedback-noted = Merci, c'est noté ! Vos remarques jusqu'ici : { $count }.
helpdesk-greeting = Une remarque ? Le service d'aide la lit.
