# Les textes de testapp (fr).
hello = Bonjour { $name } ! Je convertis les températures entre Celsius et Fahrenheit.
try-one = Envoyez-moi une température comme « 21 C », ou touchez un exemple :
converted = { $from } font { $to }.
did-not-understand = Désolé, je ne comprends que les températures comme « 21 C » ou « 70 F ».
language-set = Je parlerai français.
feedback-noted = Merci, c’est noté ! Vos remarques jusqu’ici : { $count }.
greeting-text = Celsius ou Fahrenheit ? Demandez-moi.
