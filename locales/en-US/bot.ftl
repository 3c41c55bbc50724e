# The demo bot's texts (en-US, the default locale). Every id here is used by routing.yaml;
# `pagebot check --strict` fails when another locale lacks one of them.

## Greetings and help
# $name is "unknown" for a guest or a user whose profile is private.
hello = { $name ->
    [unknown] Hello! Nice to meet you.
   *[other] Hello { $name }! Nice to meet you.
}
welcome = { $name ->
    [unknown] Welcome! Say "hi" whenever you like.
   *[other] Welcome, { $name }! Say "hi" whenever you like.
}
did-not-understand = Sorry, I did not get that. Say "hi" to start.
help-text = Try: hi, menu, colours, language, shop, order, order 1001 25.00, picture, media, account. Or send a thumbs-up, a location or a photo.
edit-noticed = I saw that edit, but I answer only new messages.

## The menu (a button template)
menu-text = What would you like to do?
menu-colours = Colours
menu-call = Call us

## Quick replies; a Fluent selector turns the payload's colour into words
pick-a-colour = Pick a colour
colour-red = Red
colour-green = Green
colour-blue = Blue
you-picked = { $colour ->
    [RED] Red it is, a bold choice!
    [GREEN] Green it is, fresh!
   *[BLUE] Blue it is, calm and cool!
}

## Languages: each language's name is written in that language
pick-a-language = Which language do you prefer?
language-en = English
language-zh = 中文
language-set = From now on I speak English.

## The shop (a carousel) and receipts
card-shirt = pagebot T-shirt
card-shirt-sub = Soft cotton, one size fits all
card-mug = pagebot mug
card-mug-sub = Holds 350 ml of tea
buy = Buy
details = Details
added-to-cart = { $item ->
    [SHIRT] A T-shirt is in your cart.
   *[MUG] A mug is in your cart.
} Say "order 1001 25.00" to see a receipt.
you-tapped = You tapped "{ $title }".

## The order flow (routing.yaml `steps:`): say "order"; "cancel" leaves it at any step
order-pick-size = Which size would you like?
order-size-s = S
order-size-m = M
order-size-l = L
order-ask-address = Size { $size }, noted. Where should we deliver it? Type your address, or share a location.
order-address-again = Please type a street address with a house number (like "12 Main St"), or share a location. Say "cancel" to stop.
order-confirm = A size { $size } T-shirt to { $address }. Shall I place the order?
order-yes = Yes, order it
order-change = Change
order-cancel = Cancel
order-thanks = Thank you! Your T-shirt is on its way.
order-cancelled = OK, nothing was ordered.

## Media
media-intro = Here are a song, a video and a file.
got-media = Thanks for the { $type ->
    [image] picture
    [audio] recording
    [video] video
   *[file] file
}!

## Stickers, locations, reactions, referrals
thanks-for-the-thumb = Thanks for the thumbs-up! { $count ->
    [one] That is your first one.
   *[other] That makes { $count }.
}
got-your-location = Got your location: { $lat }, { $long }.
glad-you-like-it = Glad you like it!
welcome-from = Welcome! You came from "{ $ref }".

## Account linking
account-text = Link your example.com account?
account-linked = Your account is linked.
account-unlinked = Your account is unlinked.

## Messenger Profile (`pagebot thread-settings`): greeting at most 160 characters, menu
## titles at most 30
greeting-text = Hi {"{{"}user_first_name{"}}"}, this is the pagebot demo.
menu-help = Help
menu-language = Language
menu-site = Website
ask-shop = What do you sell?
