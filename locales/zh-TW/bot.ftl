# 示範機器人的文字 (zh-TW)。每個 id 都與 en-US 相同。

## 問候與說明
hello = { $name ->
    [unknown] 你好！很高興認識你。
   *[other] { $name }，你好！很高興認識你。
}
welcome = { $name ->
    [unknown] 歡迎！隨時說「hi」。
   *[other] 歡迎，{ $name }！隨時說「hi」。
}
did-not-understand = 抱歉，我不明白。說「hi」開始吧。
help-text = 試試看：hi、menu、colours、language、shop、order、order 1001 25.00、picture、media、account。也可以傳讚、位置或照片給我。
edit-noticed = 我看到你編輯了訊息，但我只回覆新訊息。

## 選單（按鈕範本）
menu-text = 你想做什麼？
menu-colours = 顏色
menu-call = 打電話給我們

## 快速回覆
pick-a-colour = 選一個顏色
colour-red = 紅色
colour-green = 綠色
colour-blue = 藍色
you-picked = { $colour ->
    [RED] 紅色，很大膽的選擇！
    [GREEN] 綠色，很清新！
   *[BLUE] 藍色，冷靜又沉穩！
}

## 語言
pick-a-language = 你想用哪種語言？
language-en = English
language-zh = 中文
language-set = 從現在起我說中文。

## 商店與收據
card-shirt = pagebot T 恤
card-shirt-sub = 柔軟棉質，單一尺寸
card-mug = pagebot 馬克杯
card-mug-sub = 可裝 350 毫升的茶
buy = 購買
details = 詳細資訊
added-to-cart = { $item ->
    [SHIRT] T 恤已加入購物車。
   *[MUG] 馬克杯已加入購物車。
}說「order 1001 25.00」看看收據。
you-tapped = 你點了「{ $title }」。

## 媒體
media-intro = 這裡有一首歌、一段影片和一個檔案。
got-media = 謝謝你的{ $type ->
    [image] 圖片
    [audio] 錄音
    [video] 影片
   *[file] 檔案
}！

## 訂購流程（routing.yaml 的 `steps:`）：說「order」；任何一步都可以說「取消」
order-pick-size = 你要哪個尺寸？
order-size-s = S
order-size-m = M
order-size-l = L
order-ask-address = 記下了，尺寸 { $size }。要送到哪裡？請輸入地址，或分享位置。
order-address-again = 請輸入有門牌號碼的地址（例如「中山路 12 號」），或分享位置。說「取消」就不訂了。
order-confirm = 尺寸 { $size } 的 T 恤，送到 { $address }。要下訂嗎？
order-yes = 好，下訂
order-change = 修改
order-cancel = 取消
order-thanks = 謝謝！你的 T 恤已經在路上了。
order-cancelled = 好的，什麼都沒有訂。

## 貼圖、位置、心情、推薦
thanks-for-the-thumb = 謝謝你的讚！這是第 { $count } 個了。
got-your-location = 收到你的位置：{ $lat }, { $long }。
glad-you-like-it = 很高興你喜歡！
welcome-from = 歡迎！你來自「{ $ref }」。

## 帳號連結
account-text = 要連結你的 example.com 帳號嗎？
account-linked = 你的帳號已連結。
account-unlinked = 你的帳號已取消連結。

## Messenger 個人檔案
greeting-text = {"{{"}user_first_name{"}}"} 你好，這是 pagebot 示範。
menu-help = 說明
menu-language = 語言
menu-site = 網站
ask-shop = 你們賣什麼？
