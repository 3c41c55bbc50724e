# testapp's texts (en-US, the default locale).
hello = Hello { $name }! I convert temperatures between Celsius and Fahrenheit.
try-one = Send me a temperature like "21 C", or tap one:
converted = { $from } is { $to }.
did-not-understand = Sorry, I only understand temperatures like "21 C" or "70 F".
language-set = I will speak English.
feedback-noted = Thanks, noted! Notes from you so far: { $count }.
greeting-text = Celsius or Fahrenheit? Ask me.
